"""Calls for applications."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.calls import CallIn, CallOut, RankingOut, WeightsIn
from portal.calls.selectors import calls_visible_to
from portal.errors import NotAllowed
from quotas import calls as services
from quotas.ranking import call_ranking, call_weights, call_weights_set


class CallListCreate(APIView):
    @extend_schema(responses=CallOut(many=True), summary="Calls that have opened (staff: all)")
    def get(self, request):
        return paginate(self, request, calls_visible_to(request.user), CallOut)

    @extend_schema(request=CallIn, responses={201: CallOut}, summary="Staff: open a call")
    def post(self, request):
        if not request.user.is_staff:
            raise NotAllowed(_("Only programme staff open calls."))
        data = CallIn(data=request.data)
        data.is_valid(raise_exception=True)
        call = services.call_create(staff=request.user, **data.validated_data)
        return Response(CallOut(call).data, status=status.HTTP_201_CREATED)


class CallDetail(APIView):
    @extend_schema(responses=CallOut)
    def get(self, request, public_id):
        return Response(CallOut(get_visible(calls_visible_to(request.user), public_id)).data)

    @extend_schema(
        request=CallIn, responses=CallOut, summary="Staff: edit a call (pools never below what is awarded)"
    )
    def put(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        if not request.user.is_staff:
            raise NotAllowed(_("Only programme staff edit calls."))
        data = CallIn(data=request.data)
        data.is_valid(raise_exception=True)
        call = services.call_update(call=call, staff=request.user, **data.validated_data)
        return Response(CallOut(calls_visible_to(request.user).get(pk=call.pk)).data)


class CallRanking(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses=RankingOut, summary="Staff: the panel's ranking of a call's reviewed applications"
    )
    def get(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        return Response(RankingOut({"weights": call_weights(call), "ranking": ranked_by_track(call)}).data)


def ranked_by_track(call) -> list:
    """The call's ranking, each line also numbered within its track (the ranked list per track)."""
    ranking = call_ranking(call)
    seen: dict = {}
    for line in ranking:
        track = line.application.track_id
        seen[track] = seen.get(track, 0) + 1
        line.track_position = seen[track]
    return ranking


class CallWeights(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=WeightsIn, responses=RankingOut, summary="Staff: how the criteria weigh in a call's ranking"
    )
    def put(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        data = WeightsIn(data=request.data)
        data.is_valid(raise_exception=True)
        call = call_weights_set(staff=request.user, call=call, weights=data.validated_data["weights"])
        return Response(RankingOut({"weights": call_weights(call), "ranking": ranked_by_track(call)}).data)
