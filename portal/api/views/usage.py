"""Usage: node agents report it; members read it per job, allocation and organisation (JSON or CSV)."""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import csv_requested, get_visible
from portal.api.parsers import DepthLimitedJSONParser
from portal.api.serializers.strict import StrictInput
from portal.csv_download import csv_download
from portal.ops.agents import usage_report_received
from portal.organisations.selectors import organisations_visible_to
from quotas.ledger import EARLIEST_USAGE_TIME, MAX_CLOCK_SKEW_S, epoch_to_datetime
from quotas.models import UsageRecord
from quotas.reports import CSV_COLUMNS, monthly_usage, usage_summary
from quotas.selectors import allocations_visible_to
from scheduler.metering import usage_ingest
from scheduler.models import Job
from scheduler.node_keys import IsNode, NodeKeyAuthentication
from scheduler.selectors import jobs_visible_to
from scheduler.states import ACTIVE
from workers.portal_client import SPOOL_BACKLOG_HEADER

# The latest time the schema admits; the real bound is the portal's clock plus MAX_CLOCK_SKEW_S.
SCHEMA_LATEST_USAGE_TIME = datetime(2100, 1, 1, tzinfo=UTC)


@extend_schema_field(
    {
        "type": "number",
        "minimum": EARLIEST_USAGE_TIME.timestamp(),
        "maximum": SCHEMA_LATEST_USAGE_TIME.timestamp(),
        "description": f"seconds since 1970 (UTC); at most {MAX_CLOCK_SKEW_S} s ahead of the portal's clock",
    }
)
class UsageTime(serializers.FloatField):
    """Seconds since 1970 (UTC), checked to be a time a node agent's clock can read, so that turning it
    into a datetime never overflows (a year-10000 or 1e300 timestamp used to be a 500)."""

    default_error_messages = {
        "out_of_range": gettext_lazy(
            "A time in seconds since 1970 (UTC), from {earliest} to an hour ahead of the portal's clock."
        )
    }

    def to_internal_value(self, data):
        value = super().to_internal_value(data)  # a finite number, or a field error
        latest = timezone.now().timestamp() + MAX_CLOCK_SKEW_S
        if not EARLIEST_USAGE_TIME.timestamp() <= value <= latest:
            self.fail("out_of_range", earliest=EARLIEST_USAGE_TIME.date().isoformat())
        return value


class UsageJSONParser(DepthLimitedJSONParser):
    """Takes NaN and Infinity, which Python's json.dumps writes: the number fields then refuse them by
    name (records.N.field), so the agent sets that one record aside instead of retrying its whole spool
    against a parse error. Nothing else in a usage batch is kept unvalidated, so no NaN is ever stored."""

    strict = False


class UsageRecordIn(StrictInput):
    id = serializers.CharField(max_length=255)
    job_id = serializers.UUIDField()
    gpu_uuid = serializers.CharField(max_length=96)
    epoch = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    sequence = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    interval_start = UsageTime()
    interval_end = UsageTime()
    gpu_seconds = serializers.IntegerField(min_value=0, max_value=10**7)
    energy_mj = serializers.IntegerField(min_value=0, max_value=10**13)
    avg_utilisation_pct = serializers.FloatField(min_value=0, max_value=100)
    avg_memory_bytes = serializers.IntegerField(min_value=0, max_value=2**50)
    estimated = serializers.BooleanField(default=False)
    simulated = serializers.BooleanField(default=False)
    quarantined = serializers.BooleanField(default=False)


class UsageBatchIn(StrictInput):
    records = UsageRecordIn(many=True, allow_empty=False, max_length=1000)


class IngestOut(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField())


class UsageReport(APIView):
    authentication_classes = [NodeKeyAuthentication]
    permission_classes = [IsNode]
    throttle_classes: list = []
    parser_classes = [UsageJSONParser]

    @extend_schema(
        request=UsageBatchIn,
        responses=IngestOut,
        summary="Node agents: report usage records (at least once; each is applied exactly once)",
    )
    def post(self, request):
        data = UsageBatchIn(data=request.data)
        data.is_valid(raise_exception=True)
        records = []
        for record in data.validated_data["records"]:
            records.append(
                {
                    **record,
                    "job_id": str(record["job_id"]),
                    "interval_start": epoch_to_datetime(record["interval_start"]),
                    "interval_end": epoch_to_datetime(record["interval_end"]),
                }
            )
        result = usage_ingest(node=request.user.node, records=records)
        usage_report_received(
            node=request.user.node,
            interval_ends=[record["interval_end"] for record in data.validated_data["records"]],
            spool_backlog_header=request.headers.get(SPOOL_BACKLOG_HEADER),
        )
        return Response(
            {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": result.rejected}
        )


class NodeJobs(APIView):
    authentication_classes = [NodeKeyAuthentication]
    permission_classes = [IsNode]

    @extend_schema(
        responses=inline_serializer(
            "NodeJobs", {"jobs": serializers.ListField(child=serializers.DictField())}
        ),
        summary="Node agents: jobs placed on this node (active, or ended in the last hour)",
    )
    def get(self, request):
        from datetime import timedelta

        from django.db.models import Q
        from django.utils import timezone

        recent = timezone.now() - timedelta(hours=1)
        jobs = Job.objects.filter(Q(state__in=list(ACTIVE)) | Q(finished_at__gte=recent)).exclude(
            placement=[]
        )
        node = request.user.node
        out = []
        for job in jobs.only("public_id", "state", "gpu_type", "placement", "scheduled_at", "finished_at"):
            pods = [
                {"rank": rank, **pod} for rank, pod in enumerate(job.placement) if pod.get("node") == node
            ]
            if pods:
                out.append(
                    {
                        "id": str(job.public_id),
                        "state": job.state,
                        "gpu_type": job.gpu_type,
                        "pods": pods,
                        "scheduled_at": job.scheduled_at,
                        "finished_at": job.finished_at,
                    }
                )
        return Response({"jobs": out})


EXPORT = OpenApiParameter("export", str, enum=["csv"], description="csv: the monthly rows as a CSV file")


USAGE_OUT = inline_serializer(
    "Usage",
    {"summary": serializers.DictField(), "months": serializers.ListField(child=serializers.DictField())},
)
# JSON by default; with ?export=csv the same monthly rows as a CSV attachment.
USAGE_RESPONSES = {
    (200, "application/json"): USAGE_OUT,
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="with ?export=csv"),
}


class JobUsage(APIView):
    @extend_schema(
        responses=USAGE_RESPONSES,
        parameters=[EXPORT],
        summary="A job's GPU-hours, energy, power, utilisation, cost and CO₂",
    )
    def get(self, request, public_id):
        job = get_visible(jobs_visible_to(request.user), public_id)
        return usage_response(
            request,
            UsageRecord.objects.filter(job=job),
            f"job-{job.public_id}",
            extra={"idle_since": job.idle_since},
        )


class AllocationUsage(APIView):
    @extend_schema(
        responses=USAGE_RESPONSES, parameters=[EXPORT], summary="An allocation's usage, by month and GPU type"
    )
    def get(self, request, public_id):
        allocation = get_visible(allocations_visible_to(request.user), public_id)
        return usage_response(
            request, UsageRecord.objects.filter(allocation=allocation), f"allocation-{allocation.public_id}"
        )


class OrganisationUsage(APIView):
    @extend_schema(
        responses=USAGE_RESPONSES,
        parameters=[EXPORT],
        summary="An organisation's usage over all its allocations",
    )
    def get(self, request, public_id):
        organisation = get_visible(organisations_visible_to(request.user), public_id)
        return usage_response(
            request,
            UsageRecord.objects.filter(allocation__organisation=organisation),
            f"organisation-{organisation.public_id}",
        )


def usage_response(request, records, name: str, extra: dict | None = None):
    """The summary and monthly rows of ``records`` as JSON, or the rows as CSV with ?export=csv."""
    months = monthly_usage(records)
    if csv_requested(request):
        return csv_download(months, CSV_COLUMNS, f"{name}-usage.csv")
    return Response({"summary": {**usage_summary(records).as_dict(), **(extra or {})}, "months": months})
