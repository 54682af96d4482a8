"""The environments catalogue, read-only: what a job may give as ``environment_name``."""

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from portal.api.common import paginate
from portal.api.serializers.environments import EnvironmentOut
from portal.environments.selectors import environments_active


class EnvironmentList(APIView):
    @extend_schema(responses=EnvironmentOut(many=True), summary="Active container environments, by name")
    def get(self, request):
        return paginate(self, request, environments_active(), EnvironmentOut)
