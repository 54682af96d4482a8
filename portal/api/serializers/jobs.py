import threading

from django.conf import settings
from django.utils import translation
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from portal.api.serializers.strict import StrictInput
from portal.providers.models import Region
from quotas.models import SECONDS_PER_HOUR
from scheduler.job_fields import (
    ARGUMENT_MAX_LENGTH,
    COMMAND_MAX_ARGUMENTS,
    DEFAULT_PODS,
    DEFAULT_PRIORITY,
    ENVIRONMENT_NAME_MAX_LENGTH,
    GPU_TYPE_MAX_LENGTH,
    IMAGE_MAX_LENGTH,
    MAX_GPUS_PER_POD,
    MAX_PODS,
    MIN_RUNTIME_MINUTES,
    NAME_MAX_LENGTH,
)
from scheduler.models import BATCH_KINDS, Job, JobEvent, JobPriority
from scheduler.queue_view import queue_views
from scheduler.selectors import job_queue_facts
from scheduler.states import JobState


class JobIn(StrictInput):
    allocation = serializers.UUIDField()
    name = serializers.CharField(max_length=NAME_MAX_LENGTH)
    # a session is launched through /sessions (docs/sessions.md), not submitted as a job
    kind = serializers.ChoiceField(choices=[(k.value, k.label) for k in BATCH_KINDS])
    environment_name = serializers.CharField(
        max_length=ENVIRONMENT_NAME_MAX_LENGTH,
        required=False,
        default="",
        help_text="a catalogue environment (GET /api/v1/environments)",
    )
    image = serializers.CharField(
        max_length=IMAGE_MAX_LENGTH,
        required=False,
        default="",
        help_text="your own image instead of an environment, where the allocation allows custom images",
    )
    command = serializers.ListField(
        child=serializers.CharField(max_length=ARGUMENT_MAX_LENGTH, trim_whitespace=False),
        min_length=1,
        max_length=COMMAND_MAX_ARGUMENTS,
    )
    environment = serializers.DictField(
        child=serializers.CharField(max_length=ARGUMENT_MAX_LENGTH, allow_blank=True, trim_whitespace=False),
        required=False,
        default=dict,
    )
    gpu_type = serializers.CharField(max_length=GPU_TYPE_MAX_LENGTH)
    gpus_per_pod = serializers.IntegerField(min_value=1, max_value=MAX_GPUS_PER_POD)
    pods = serializers.IntegerField(min_value=1, max_value=MAX_PODS, default=DEFAULT_PODS)
    max_runtime_minutes = serializers.IntegerField(
        min_value=MIN_RUNTIME_MINUTES, max_value=settings.GPUGRANT_MAX_RUNTIME_MINUTES
    )
    priority = serializers.ChoiceField(choices=JobPriority.choices, default=DEFAULT_PRIORITY)
    provider = serializers.CharField(
        max_length=100,
        required=False,
        default="",
        allow_blank=True,
        help_text="run only on this provider's clusters (GET /api/v1/providers), within the allocation's pins",
    )
    region = serializers.ChoiceField(
        choices=Region.choices,
        required=False,
        default="",
        allow_blank=True,
        help_text="run only in this region, within the allocation's pins",
    )


class PlacementOut(serializers.Serializer):
    node = serializers.CharField()
    gpus = serializers.ListField(child=serializers.IntegerField())


class ClusterOut(serializers.Serializer):
    name = serializers.CharField()
    provider = serializers.CharField(source="provider.name")
    region = serializers.CharField()


class PredictedRuntimeOut(serializers.Serializer):
    minutes = serializers.FloatField(help_text="the median of its kind's recent runs, at most max_runtime")
    low_minutes = serializers.FloatField(help_text="10th percentile")
    high_minutes = serializers.FloatField(help_text="90th percentile")
    basis = serializers.CharField(
        help_text="the history it rests on: same_name, same_command, same_submitter_limit (same GPUs and "
        "max_runtime), same_submitter_size, same_allocation_size or same_allocation"
    )
    runs = serializers.IntegerField(help_text="how many finished runs")


class JobOut(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    allocation = serializers.UUIDField(source="allocation.public_id", read_only=True)
    organisation = serializers.UUIDField(source="organisation.public_id", read_only=True)
    submitted_by = serializers.EmailField(source="created_by.email", read_only=True)
    placement = PlacementOut(many=True, read_only=True)
    provider = serializers.CharField(
        source="provider.name", read_only=True, allow_null=True, help_text="the provider it was pinned to"
    )
    region = serializers.CharField(read_only=True, help_text="the region it was pinned to (blank: any)")
    cluster = ClusterOut(
        read_only=True,
        allow_null=True,
        help_text="where its current or last run was placed: cluster, provider, region",
    )
    queue_position = serializers.SerializerMethodField()
    estimated_start = serializers.SerializerMethodField()
    estimated_start_earliest = serializers.SerializerMethodField()
    estimated_start_latest = serializers.SerializerMethodField()
    first_estimated_start = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="the first start the queue gave it"
    )
    predicted_runtime = serializers.SerializerMethodField()
    wait_reason = serializers.SerializerMethodField()
    used_gpu_hours = serializers.SerializerMethodField()
    held_gpu_hours = serializers.SerializerMethodField()
    energy_kwh = serializers.SerializerMethodField()
    idle_since = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="set while its GPUs sit below the idle threshold"
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "name",
            "kind",
            "allocation",
            "organisation",
            "submitted_by",
            "environment_name",
            "image",
            "command",
            "environment",
            "gpu_type",
            "gpus_per_pod",
            "pods",
            "max_runtime_minutes",
            "priority",
            "state",
            "state_reason",
            "state_reason_code",
            "queue_position",
            "estimated_start",
            "estimated_start_earliest",
            "estimated_start_latest",
            "first_estimated_start",
            "predicted_runtime",
            "wait_reason",
            "provider",
            "region",
            "placement",
            "cluster",
            "exit_code",
            "requeues",
            "used_gpu_hours",
            "held_gpu_hours",
            "energy_kwh",
            "idle_since",
            "submitted_at",
            "scheduled_at",
            "started_at",
            "finished_at",
        ]

    def _facts(self, job) -> dict:
        # One queue-view read per GPU type per response, however many jobs it lists. A caller may pass
        # context["queue_views"] (GPU type → QueueView, or None where no cycle ran) to save even that.
        # Six fields ask for the same job's facts: worked out once per job and response.
        known = self.context.setdefault("queue_facts", {})
        facts = known.get(id(job))
        if facts is not None and facts[0] is job:
            return facts[1]
        views = self.context.setdefault("queue_views", {})
        if job.state == JobState.QUEUED and job.gpu_type not in views:
            views.update(queue_views([job.gpu_type]) or {job.gpu_type: None})
        facts = job_queue_facts(job, {k: v for k, v in views.items() if v is not None})
        known[id(job)] = (job, facts)
        return facts

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_queue_position(self, job):
        return self._facts(job)["queue_position"]

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_estimated_start(self, job):
        value = self._facts(job)["estimated_start"]
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_estimated_start_earliest(self, job):
        value = self._facts(job)["estimated_start_earliest"]
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_estimated_start_latest(self, job):
        value = self._facts(job)["estimated_start_latest"]
        return serializers.DateTimeField().to_representation(value) if value else None

    @extend_schema_field(PredictedRuntimeOut(allow_null=True))
    def get_predicted_runtime(self, job):
        value = self._facts(job)["predicted_runtime"]
        if value is None:
            return None
        return {
            "minutes": round(value["runtime_s"] / 60, 1),
            "low_minutes": round(value["low_s"] / 60, 1),
            "high_minutes": round(value["high_s"] / 60, 1),
            "basis": value["basis"],
            "runs": value["runs"],
        }

    @extend_schema_field(serializers.CharField())
    def get_wait_reason(self, job):
        return self._facts(job)["wait_reason"]

    @extend_schema_field(serializers.FloatField())
    def get_used_gpu_hours(self, job) -> float:
        return round(job.used_gpu_seconds / SECONDS_PER_HOUR, 4)

    @extend_schema_field(serializers.FloatField())
    def get_energy_kwh(self, job) -> float:
        return round(job.energy_mj / 3_600_000_000, 4)

    @extend_schema_field(serializers.FloatField())
    def get_held_gpu_hours(self, job) -> float:
        return round(job.hold_gpu_seconds / SECONDS_PER_HOUR, 4)


_built = threading.local()


def _built_once(name: str, serializer_class):
    """This thread's instance of ``serializer_class`` for the active language, its fields built the first
    time it is asked for. Per language: DRF's validators keep their messages once rendered (lazy_format
    caches its text), so an instance built while answering in English would answer in English ever after."""
    key = f"{name}:{translation.get_language()}"
    serializer = getattr(_built, key, None)
    if serializer is None:
        serializer = serializer_class()
        serializer.fields  # noqa: B018 - built now, once
        setattr(_built, key, serializer)
    return serializer


def job_out_data(job, context: dict) -> dict:
    """``JobOut(job, context=context).data``, by a JobOut whose fields were built once per thread.

    A ModelSerializer builds its fields from the model on every instantiation, and that was most of the
    cost of rendering a submission's response. Representing reads nothing of the serializer but its
    fields and its context, so one instance per thread (gthread workers) serves every response in turn.
    """
    serializer = _built_once("job_out", JobOut)
    serializer._context = context
    try:
        return serializer.to_representation(job)
    finally:
        serializer._context = {}


def job_in_validated(data) -> dict:
    """``JobIn(data=data)``'s validated data, or its ValidationError (``is_valid(raise_exception=True)``),
    by a JobIn whose fields were built once per thread: DRF deep-copies a serializer's declared fields on
    every instantiation. DRF's own is_valid runs, on a serializer emptied of the last request's data."""
    serializer = _built_once("job_in", JobIn)
    serializer.initial_data = data
    try:
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    finally:
        for left in ("initial_data", "_validated_data", "_errors"):
            serializer.__dict__.pop(left, None)


class JobEventOut(serializers.ModelSerializer):
    actor = serializers.EmailField(source="actor.email", allow_null=True, read_only=True)

    class Meta:
        model = JobEvent
        fields = ["created_at", "from_state", "to_state", "reason", "reason_code", "actor"]


class JobLogsOut(serializers.Serializer):
    job = serializers.UUIDField()
    text = serializers.CharField(allow_blank=True)
    limit_bytes = serializers.IntegerField()


JOB_STATES = [s.value for s in JobState]
