from rest_framework import serializers

from portal.environments.models import Environment


class EnvironmentOut(serializers.ModelSerializer):
    kinds = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Environment
        fields = ["name", "display_name", "kinds", "image", "cuda_version", "description", "description_ko"]
