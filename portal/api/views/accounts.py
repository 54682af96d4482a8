"""The caller's identity, their API keys, and (staff) the audit log."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts import services
from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.accounts import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    AuditEventOut,
    AuditQueryIn,
    MeOut,
)
from portal.audit.selectors import audit_events_for


class Me(APIView):
    @extend_schema(responses=MeOut, summary="Who am I, and which organisations am I in")
    def get(self, request):
        user = request.user
        memberships = user.memberships.select_related("organisation").order_by("organisation__name")
        return Response(
            MeOut(
                {
                    "email": user.email,
                    "full_name": user.full_name,
                    "is_staff": user.is_staff,
                    "is_reviewer": user.is_reviewer,
                    "memberships": memberships,
                }
            ).data
        )


class ApiKeyListCreate(APIView):
    @extend_schema(responses=ApiKeyOut(many=True), summary="My API keys (never the secrets)")
    def get(self, request):
        return paginate(self, request, request.user.api_keys.order_by("-created_at"), ApiKeyOut)

    @extend_schema(
        request=ApiKeyIn,
        responses={201: ApiKeyCreatedOut},
        summary="Create an API key; the key is shown once",
    )
    def post(self, request):
        data = ApiKeyIn(data=request.data)
        data.is_valid(raise_exception=True)
        key, plaintext = services.api_key_create(user=request.user, **data.validated_data)
        key.key = plaintext
        return Response(ApiKeyCreatedOut(key).data, status=status.HTTP_201_CREATED)


class ApiKeyRevoke(APIView):
    @extend_schema(request=None, responses=ApiKeyOut, summary="Revoke one of my API keys")
    def post(self, request, public_id):
        key = get_visible(request.user.api_keys.all(), public_id)
        return Response(ApiKeyOut(services.api_key_revoke(api_key=key, actor=request.user)).data)


class AuditEventList(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses=AuditEventOut(many=True),
        parameters=[
            OpenApiParameter("target_type", str, required=True),
            OpenApiParameter("target_id", str, required=True),
        ],
        summary="Staff: the audit log of one object",
    )
    def get(self, request):
        query = AuditQueryIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        return paginate(self, request, audit_events_for(**query.validated_data), AuditEventOut)
