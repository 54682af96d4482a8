"""The providers the programme rents GPUs from, as public facts: name, regions, GPU types."""

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from portal.api.common import paginate
from portal.api.serializers.providers import ProviderOut
from portal.providers.selectors import providers_public


class ProviderList(APIView):
    @extend_schema(
        responses=ProviderOut(many=True),
        summary="Providers with a cluster in service: name, regions and GPU types (no contacts or prices)",
    )
    def get(self, request):
        return paginate(self, request, providers_public(), ProviderOut)
