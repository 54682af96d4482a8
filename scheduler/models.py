"""GPU nodes and their GPUs (the rows that are claimed), jobs, their events, and idempotent submissions."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.providers.models import Region
from scheduler.job_fields import (
    DEFAULT_PODS,
    DEFAULT_PRIORITY,
    ENVIRONMENT_NAME_MAX_LENGTH,
    GPU_TYPE_MAX_LENGTH,
    IMAGE_MAX_LENGTH,
    MAX_GPUS_PER_POD,
    NAME_MAX_LENGTH,
)
from scheduler.reasons import Reason
from scheduler.states import JobState

REASON_CODE_HELP = "the reason as a stable code (accepted, placed, failed, preempted, …; text: a backend's or a person's words)"


class GpuNode(models.Model):
    name = models.CharField(max_length=253, unique=True)
    gpu_type = models.CharField(max_length=16)
    gpu_count = models.PositiveIntegerField()
    schedulable = models.BooleanField(default=True)
    unschedulable_reason = models.CharField(max_length=200, blank=True)
    backend = models.CharField(max_length=16)
    # The provider's cluster it belongs to (settings.GPUGRANT_CLUSTER names the one the backend serves);
    # settlement reads each provider's usage through it (docs/providers.md).
    cluster = models.ForeignKey(
        "providers.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="nodes"
    )
    last_seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.gpu_count}× {self.gpu_type})"


class Gpu(models.Model):
    """One GPU. ``job`` is set by a conditional UPDATE … WHERE job IS NULL: whoever updates it owns it."""

    node = models.ForeignKey(GpuNode, on_delete=models.CASCADE, related_name="gpus")
    index = models.PositiveIntegerField()
    uuid = models.CharField(max_length=64, blank=True)
    job = models.ForeignKey(
        "Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="claimed_gpus"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    external = models.BooleanField(default=False, help_text="held by a workload gpugrant does not own")

    class Meta:
        ordering = ["node__name", "index"]
        constraints = [models.UniqueConstraint(fields=["node", "index"], name="one_row_per_gpu")]

    def __str__(self) -> str:
        return f"{self.node.name}/{self.index}"


class JobKind(models.TextChoices):
    TRAINING = "training", _("Training")
    INFERENCE = "inference", _("Inference")
    # A JupyterLab session (scheduler/sessions.py), launched as a session, never through POST /jobs.
    INTERACTIVE = "interactive", _("Interactive session")


BATCH_KINDS = (JobKind.TRAINING, JobKind.INFERENCE)


class JobPriority(models.TextChoices):
    LOW = "low", _("Low (preemptible)")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High (staff)")


class Job(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="jobs"
    )
    allocation = models.ForeignKey("quotas.Allocation", on_delete=models.PROTECT, related_name="jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    image = models.CharField(max_length=IMAGE_MAX_LENGTH)
    # The catalogue environment the job chose (blank: its own image); ``image`` is what that name meant then.
    environment_name = models.CharField(max_length=ENVIRONMENT_NAME_MAX_LENGTH, blank=True, default="")
    command = models.JSONField(default=list)
    environment = models.JSONField(default=dict, blank=True)
    gpu_type = models.CharField(max_length=GPU_TYPE_MAX_LENGTH)
    gpus_per_pod = models.PositiveSmallIntegerField()
    pods = models.PositiveSmallIntegerField(default=DEFAULT_PODS)
    max_runtime_minutes = models.PositiveIntegerField()
    priority = models.CharField(max_length=8, choices=JobPriority.choices, default=DEFAULT_PRIORITY)
    state = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in JobState], default=JobState.QUEUED
    )
    state_reason = models.CharField(max_length=500, blank=True)
    state_reason_code = models.CharField(max_length=40, blank=True, help_text=REASON_CODE_HELP)
    state_reason_params = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=16, blank=True)
    placement = models.JSONField(
        default=list, blank=True, help_text="[{node, gpus}] of the current or last run"
    )
    hold_gpu_seconds = models.BigIntegerField(
        default=0, help_text="held on the allocation while not finished"
    )
    used_gpu_seconds = models.BigIntegerField(default=0, help_text="settled from bind/release edges")
    requeues = models.PositiveIntegerField(default=0)
    exit_code = models.IntegerField(null=True, blank=True)
    stop_requested = models.CharField(
        max_length=16, blank=True, help_text="a stop the backend must carry out"
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(default=timezone.now)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    run_started_at = models.DateTimeField(null=True, blank=True, help_text="GPU-time edge of the current run")
    energy_mj = models.BigIntegerField(default=0, help_text="sum of its usage records")
    idle_since = models.DateTimeField(null=True, blank=True, help_text="its GPUs have been idle since")
    idle_warned_at = models.DateTimeField(null=True, blank=True)
    # Nodes the scheduler preempted jobs on for this queued job, kept for it across cycles until it
    # starts or the hold expires (scheduler.core: QueuedJob.held_nodes / Plan.preemption_holds).
    held_nodes = models.JSONField(default=list, blank=True)
    held_since = models.DateTimeField(null=True, blank=True)
    # The start the queue view first promised it, and the last one recorded (JobStartEstimate keeps each
    # change): users can see how the estimate moved.
    first_estimated_start = models.DateTimeField(null=True, blank=True)
    estimated_start = models.DateTimeField(null=True, blank=True)
    # When the first estimate was given, and the start the plan itself gave then, before calibration
    # (scheduler/core/calibration.py learns from how such plans turned out).
    first_estimate_at = models.DateTimeField(null=True, blank=True)
    first_planned_start = models.DateTimeField(null=True, blank=True)
    # Where it may run, narrowing its allocation's pins (blank: as the allocation allows) ...
    provider = models.ForeignKey(
        "providers.Provider", null=True, blank=True, on_delete=models.PROTECT, related_name="pinned_jobs"
    )
    region = models.CharField(max_length=16, blank=True, choices=Region.choices)
    # ... and the cluster its current or last run was placed in (set with the placement).
    cluster = models.ForeignKey(
        "providers.Cluster", null=True, blank=True, on_delete=models.PROTECT, related_name="jobs"
    )

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(fields=["state", "gpu_type"]),
            models.Index(fields=["organisation", "state"]),
            # each cycle reads the recent starts (history.wait_calibration), not the whole table
            models.Index(fields=["started_at"], name="job_started_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gpus_per_pod__gte=1, gpus_per_pod__lte=MAX_GPUS_PER_POD),
                name="gpus_per_pod_1_8",
            ),
            models.CheckConstraint(condition=models.Q(pods__gte=1), name="pods_at_least_one"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    def set_state_reason(self, reason: Reason | None) -> None:
        """Store ``reason`` (None: none) as code, parameters and English text; the caller saves."""
        for name, value in state_reason_fields(reason).items():
            setattr(self, name, value)

    @property
    def gpus(self) -> int:
        return self.gpus_per_pod * self.pods

    @property
    def max_runtime_seconds(self) -> int:
        return self.max_runtime_minutes * 60


def state_reason_fields(reason: Reason | None) -> dict:
    """Job's state reason columns for ``reason`` (None: none), for save() or a queryset's update()."""
    if reason is None:
        return {"state_reason": "", "state_reason_code": "", "state_reason_params": {}}
    return {
        "state_reason": reason.english()[:500],
        "state_reason_code": reason.code,
        "state_reason_params": dict(reason.params),
    }


class JobEventManager(models.Manager):
    def record(self, *, reason: Reason, **fields) -> "JobEvent":
        """Create an event for ``reason`` (a Reason, never a sentence)."""
        event = self.model.of(reason, **fields)
        event.save(force_insert=True, using=self.db)
        return event


class JobEvent(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    reason = models.CharField(max_length=500)
    reason_code = models.CharField(max_length=40, blank=True, help_text=REASON_CODE_HELP)
    reason_params = models.JSONField(default=dict, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = JobEventManager()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.from_state} → {self.to_state}"

    @classmethod
    def of(cls, reason: Reason, **fields) -> "JobEvent":
        """An unsaved event for ``reason``: every event says why in code, parameters and English."""
        return cls(
            reason=reason.english()[:500],
            reason_code=reason.code,
            reason_params=dict(reason.params),
            **fields,
        )


class NodeKey(models.Model):
    """A node agent's credential: it may report usage only for jobs placed on its node."""

    node = models.CharField(max_length=253)
    # A federated cluster's agent names its node as that cluster knows it; the key speaks for that node
    # of that cluster only (the node as gpugrant names it: "<cluster>/<node>", scheduler/backends/federated.py).
    cluster = models.ForeignKey(
        "providers.Cluster", null=True, blank=True, on_delete=models.CASCADE, related_name="node_keys"
    )
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.qualified_node} ({self.prefix}…)"

    @property
    def qualified_node(self) -> str:
        """The node as gpugrant's inventory names it."""
        return f"{self.cluster.name}/{self.node}" if self.cluster_id else self.node


class JobStartEstimate(models.Model):
    """An estimated start as it was given: the first one, and each one that moved (scheduler/estimates.py)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="start_estimates")
    recorded_at = models.DateTimeField()
    start = models.DateTimeField()
    earliest = models.DateTimeField()
    latest = models.DateTimeField()

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"{self.job_id}: {self.start}"


class QueueView(models.Model):
    """The last cycle's queue for one GPU type: position, estimated start and wait reason per job."""

    gpu_type = models.CharField(max_length=16, unique=True)
    computed_at = models.DateTimeField()
    total = models.PositiveIntegerField(default=0)
    entries = models.JSONField(
        default=dict
    )  # job public id → [position, estimated start (epoch s) or None, reason]

    def __str__(self) -> str:
        return f"queue {self.gpu_type}"


class SubmissionKey(models.Model):
    """An ``Idempotency-Key`` a user sent with a submission, and the response they got."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_submission_per_key")]

    def __str__(self) -> str:
        return self.key


class InteractiveSession(models.Model):
    """What makes an interactive job a session: its JupyterLab token (encrypted at rest, never shown in a
    URL), where its server listens, and its idleness (docs/sessions.md)."""

    job = models.OneToOneField(Job, on_delete=models.CASCADE, related_name="session")
    token_ciphertext = models.TextField()
    # The UNIX socket the session's JupyterLab listens on, on the host, once it runs (set by the backend).
    socket_path = models.CharField(max_length=500, blank=True)
    idle_limit_minutes = models.PositiveIntegerField()
    managers_may_enter = models.BooleanField(default=False)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"session {self.job.public_id}"
