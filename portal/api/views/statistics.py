"""A call's statistics: the full figures for staff, anonymised aggregates for anyone (docs/programme.md)."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible
from portal.api.serializers.statistics import CallStatisticsOut
from portal.calls.selectors import calls_visible_to
from quotas.rounds.statistics import public_statistics
from quotas.statistics import call_statistics_of, statistics_table


class CallStatistics(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        responses=CallStatisticsOut,
        summary="Staff: a call's statistics by sector, region, organisation type and track",
    )
    def get(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        statistics, track_names = call_statistics_of(call)
        return Response(CallStatisticsOut({"call": call, **statistics_table(statistics, track_names)}).data)


class CallPublicStatistics(APIView):
    # Public: no credentials needed (a caller's identity changes nothing here); one sent is still checked,
    # so a revoked key is refused here as everywhere.
    permission_classes = [AllowAny]

    @extend_schema(
        responses=CallStatisticsOut,
        auth=[],
        summary="A call's anonymised statistics (no sign-in)",
        description="The same figures as staff's, with every group of fewer than 3 applications withheld "
        "(withheld: fewer_than_3), and any group that would give such a group away by subtraction too "
        "(withheld: protects_another). No organisation or project is named.",
    )
    def get(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        statistics, track_names = call_statistics_of(call)
        public = public_statistics(statistics)
        return Response(CallStatisticsOut({"call": call, **statistics_table(public, track_names)}).data)
