from rest_framework import serializers

from portal.providers.models import Region


class ProviderOut(serializers.Serializer):
    name = serializers.CharField()
    regions = serializers.ListField(child=serializers.ChoiceField(choices=Region.choices))
    gpu_types = serializers.ListField(child=serializers.CharField())
