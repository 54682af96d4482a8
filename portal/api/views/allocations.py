"""Allocations with their balances; change requests; staff status changes."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.allocations import (
    AllocationOut,
    AllocationStatusIn,
    ChangeRequestIn,
    SessionSettingsIn,
    SessionSettingsOut,
)
from portal.api.serializers.applications import ApplicationOut
from portal.applications.selectors import applications_visible_to
from portal.errors import InvalidInput
from quotas import services
from quotas.models import AllocationStatus
from quotas.selectors import allocations_visible_to
from quotas.services import change_request_create
from quotas.session_settings import allocation_session_settings_set


class AllocationList(APIView):
    @extend_schema(
        responses=AllocationOut(many=True),
        parameters=[OpenApiParameter("status", str, enum=AllocationStatus.values)],
        summary="My organisations' allocations with awarded/used/held/remaining GPU-hours per GPU type",
    )
    def get(self, request):
        allocations = allocations_visible_to(request.user)
        wanted = request.query_params.get("status")
        if wanted is not None:  # given empty: report it rather than drop the filter
            if wanted not in AllocationStatus.values:
                raise InvalidInput(
                    _("Invalid filter."),
                    fields={
                        "status": [
                            _("Choose one of: %(choices)s.") % {"choices": ", ".join(AllocationStatus.values)}
                        ]
                    },
                )
            allocations = allocations.filter(status=wanted)
        return paginate(self, request, allocations, AllocationOut)


class AllocationDetail(APIView):
    @extend_schema(responses=AllocationOut)
    def get(self, request, public_id):
        return Response(AllocationOut(get_visible(allocations_visible_to(request.user), public_id)).data)


class AllocationStatusChange(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=AllocationStatusIn, responses=AllocationOut, summary="Staff: suspend or reactivate"
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = AllocationStatusIn(data=request.data)
        data.is_valid(raise_exception=True)
        allocation = services.allocation_set_status(
            allocation=allocation, staff=request.user, **data.validated_data
        )
        return Response(AllocationOut(allocations_visible_to(request.user).get(pk=allocation.pk)).data)


class AllocationSessionSettings(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=SessionSettingsIn,
        responses=SessionSettingsOut,
        summary="Staff: the allocation's session rules (GPU cap, idle limit, managers may enter)",
    )
    def put(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = SessionSettingsIn(data=request.data)
        data.is_valid(raise_exception=True)
        allocation = allocation_session_settings_set(
            staff=request.user, allocation=allocation, **data.validated_data
        )
        return Response(SessionSettingsOut(allocation).data)


class AllocationChangeRequest(APIView):
    @extend_schema(
        request=ChangeRequestIn,
        responses={201: ApplicationOut},
        summary="Draft a change request (extension, more GPU-hours)",
    )
    def post(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        data = ChangeRequestIn(data=request.data)
        data.is_valid(raise_exception=True)
        application = change_request_create(user=request.user, allocation=allocation, **data.validated_data)
        return Response(
            ApplicationOut(applications_visible_to(request.user).get(pk=application.pk)).data,
            status=status.HTTP_201_CREATED,
        )
