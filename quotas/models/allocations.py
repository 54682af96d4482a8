"""Call pools and allocations: what was offered, what was awarded, and what is used or held."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from portal.providers.models import Region

SECONDS_PER_HOUR = 3600


class CallPool(models.Model):
    """GPU-hours of one GPU type that a call may award in total; the row lock that guards over-award."""

    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="pools")
    gpu_type = models.CharField(max_length=16)
    total_gpu_hours = models.PositiveIntegerField()
    awarded_gpu_hours = models.PositiveIntegerField(default=0)
    max_gpu_hours_per_application = models.PositiveIntegerField()

    class Meta:
        ordering = ["gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["call", "gpu_type"], name="one_pool_per_gpu_type"),
            models.CheckConstraint(
                condition=models.Q(awarded_gpu_hours__lte=models.F("total_gpu_hours")),
                name="pool_never_over_awarded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call}: {self.gpu_type}"

    @property
    def available_gpu_hours(self) -> int:
        return self.total_gpu_hours - self.awarded_gpu_hours


class AllocationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    EXPIRED = "expired", _("Expired")
    # From a round: not usable until the organisation's owner accepts the agreement; lapsed if never.
    AWAITING_AGREEMENT = "awaiting_agreement", _("Awaiting agreement")
    LAPSED = "lapsed", _("Lapsed")


class Allocation(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.PROTECT, related_name="allocations"
    )
    call = models.ForeignKey("calls.Call", on_delete=models.PROTECT, related_name="allocations")
    application = models.OneToOneField(
        "applications.Application", on_delete=models.PROTECT, related_name="resulting_allocation"
    )
    project_title = models.CharField(max_length=200)
    starts_on = models.DateField()
    ends_on = models.DateField()
    max_concurrent_gpus = models.PositiveIntegerField()
    status = models.CharField(
        max_length=24, choices=AllocationStatus.choices, default=AllocationStatus.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now)
    # Fair-share input: GPU-seconds used, halved every GPUGRANT_FAIRSHARE_HALF_LIFE, as of the time beside it.
    decayed_usage_gpu_seconds = models.FloatField(default=0.0)
    decayed_usage_as_of = models.DateTimeField(default=timezone.now)
    idle_policy = models.CharField(
        max_length=16,
        choices=[("warn", "Warn only"), ("warn_then_stop", "Warn, then stop")],
        default="warn_then_stop",
        help_text="What happens to jobs whose GPUs sit idle.",
    )
    # Jobs normally run a catalogue environment (portal/environments); staff may let an allocation run
    # images of its own choosing.
    allow_custom_images = models.BooleanField(
        default=False, help_text="Whether jobs may give their own image instead of a catalogue environment."
    )
    # Interactive sessions (docs/sessions.md): the most GPUs its sessions may hold at once (0: none), how
    # long a session may sit idle before it is stopped, and whether its organisation's managers may
    # enter its members' sessions.
    session_gpu_cap = models.PositiveIntegerField(default=1)
    session_idle_minutes = models.PositiveIntegerField(default=30)
    session_managers_may_enter = models.BooleanField(default=False)
    # Where its jobs may run (data residency, the application's request): none chosen means anywhere.
    # A job may narrow these (Job.provider, Job.region), never widen them (docs/providers.md).
    providers = models.ManyToManyField(
        "providers.Provider",
        blank=True,
        related_name="pinned_allocations",
        help_text="Its jobs run only on these providers' clusters (none: any provider).",
    )
    region = models.CharField(
        max_length=16,
        blank=True,
        choices=Region.choices,
        help_text="Its jobs run only in this region (blank: any).",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.project_title


class AllocationBudget(models.Model):
    """One GPU type's account within an allocation. Used and held are kept in GPU-seconds."""

    allocation = models.ForeignKey(Allocation, on_delete=models.CASCADE, related_name="budgets")
    gpu_type = models.CharField(max_length=16)
    awarded_gpu_hours = models.PositiveIntegerField()
    used_gpu_seconds = models.BigIntegerField(default=0)
    held_gpu_seconds = models.BigIntegerField(default=0)
    notified_percent = models.PositiveSmallIntegerField(
        default=0, help_text="last usage warning sent: 0, 80 or 100"
    )

    class Meta:
        ordering = ["gpu_type"]
        constraints = [
            models.UniqueConstraint(fields=["allocation", "gpu_type"], name="one_budget_per_gpu_type"),
            models.CheckConstraint(condition=models.Q(used_gpu_seconds__gte=0), name="used_not_negative"),
            models.CheckConstraint(condition=models.Q(held_gpu_seconds__gte=0), name="held_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.allocation}: {self.gpu_type}"

    @property
    def awarded_gpu_seconds(self) -> int:
        return self.awarded_gpu_hours * SECONDS_PER_HOUR

    @property
    def remaining_gpu_seconds(self) -> int:
        return self.awarded_gpu_seconds - self.used_gpu_seconds - self.held_gpu_seconds


class UsageSource(models.TextChoices):
    AGENT = "agent", _("Node agent")
    EDGES = "edges", _("Bind/release edges (no node agent)")


class UsageRecord(models.Model):
    """One GPU's use by one job over one interval, as reported; applied to the ledger exactly once."""

    record_id = models.CharField(max_length=255, unique=True, help_text="job:GPU UUID:epoch:sequence")
    job = models.ForeignKey("scheduler.Job", on_delete=models.PROTECT, related_name="usage_records")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="usage_records")
    gpu_type = models.CharField(max_length=16)
    node = models.CharField(max_length=253)
    gpu_uuid = models.CharField(max_length=96)
    epoch = models.PositiveIntegerField()
    sequence = models.PositiveIntegerField()
    interval_start = models.DateTimeField()
    interval_end = models.DateTimeField()
    gpu_seconds = models.BigIntegerField()
    energy_mj = models.BigIntegerField()
    avg_utilisation_pct = models.FloatField()
    avg_memory_bytes = models.BigIntegerField()
    estimated = models.BooleanField(default=False)
    simulated = models.BooleanField(default=False)
    quarantined = models.BooleanField(default=False)
    source = models.CharField(max_length=8, choices=UsageSource.choices, default=UsageSource.AGENT)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["interval_start", "id"]
        indexes = [
            models.Index(fields=["job", "interval_start"]),
            models.Index(fields=["allocation", "interval_start"]),
        ]

    def __str__(self) -> str:
        return self.record_id


class LedgerEntry(models.Model):
    """The debit a usage record made: written in the same transaction, never twice (one per record)."""

    usage = models.OneToOneField(UsageRecord, on_delete=models.PROTECT, related_name="ledger_entry")
    allocation = models.ForeignKey(Allocation, on_delete=models.PROTECT, related_name="ledger_entries")
    gpu_type = models.CharField(max_length=16)
    gpu_seconds = models.BigIntegerField()
    energy_mj = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.allocation_id} {self.gpu_type} −{self.gpu_seconds} GPU-s"
