"""Staff: reclaims proposed by the monthly usage check, and the decision on each."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.after_award import ReclaimDecisionIn, ReclaimOut
from portal.errors import InvalidInput
from quotas.models import ReclaimState
from quotas.reclaims import reclaim_decide, reclaims_for_staff


class ReclaimList(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses=ReclaimOut(many=True),
        parameters=[OpenApiParameter("state", str, enum=ReclaimState.values)],
        summary="Staff: proposed and decided reclaims, newest first",
    )
    def get(self, request):
        state = request.query_params.get("state")
        if state is not None and state not in ReclaimState.values:
            raise InvalidInput(
                _("Invalid filter."),
                fields={
                    "state": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(ReclaimState.values)}]
                },
            )
        return paginate(self, request, reclaims_for_staff(state), ReclaimOut)


class ReclaimDecisionView(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=ReclaimDecisionIn,
        responses=ReclaimOut,
        summary="Staff: accept a reclaim (the unused GPU-hours go back to the pool) or dismiss it",
    )
    def post(self, request, public_id):
        reclaim = get_visible(reclaims_for_staff(), public_id)
        data = ReclaimDecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        reclaim = reclaim_decide(reclaim=reclaim, staff=request.user, **data.validated_data)
        return Response(ReclaimOut(reclaims_for_staff().get(pk=reclaim.pk)).data)
