"""The cloud providers the programme rents GPUs from, their clusters and their contracts (docs/providers.md)."""

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Provider(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100, unique=True)
    contact_name = models.CharField(max_length=100, blank=True)
    contact_email = models.EmailField(blank=True)
    contract_reference = models.CharField(
        max_length=100, blank=True, help_text=_("The procurement contract's number, as the agency files it")
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Region(models.TextChoices):
    CAPITAL = "capital", _("Capital area")
    NON_CAPITAL = "non_capital", _("Outside the capital area")


class ClusterBackend(models.TextChoices):
    KUBERNETES = "kubernetes", _("Kubernetes")
    LOCAL = "local", _("Local")
    SIMULATED = "simulated", _("Simulated")


class ClusterState(models.TextChoices):
    ACTIVE = "active", _("Active")
    DRAINING = "draining", _("Draining: no new placements")
    OFFLINE = "offline", _("Offline")


class Cluster(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="clusters")
    name = models.SlugField(max_length=63, unique=True)
    backend = models.CharField(max_length=16, choices=ClusterBackend.choices)
    api_url = models.URLField(blank=True, help_text=_("The Kubernetes API server, https://…"))
    ca_certificate = models.TextField(blank=True, help_text=_("The API server's CA certificate (PEM)"))
    # The service-account token, encrypted (portal/providers/credentials.py); never shown again.
    token_encrypted = models.TextField(blank=True, editable=False)
    region = models.CharField(max_length=16, choices=Region.choices)
    state = models.CharField(max_length=16, choices=ClusterState.choices, default=ClusterState.ACTIVE)
    state_changed_at = models.DateTimeField(default=timezone.now)
    # Whether gpugrant itself set the state (failover marks a silent cluster offline): only such an
    # offline cluster is put back into service when it answers again; staff's own choice stands.
    state_set_by_service = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider__name", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def has_token(self) -> bool:
        return bool(self.token_encrypted)


class ClusterGpus(models.Model):
    """How many GPUs of a type a cluster has."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="gpus")
    gpu_type = models.CharField(max_length=16)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["gpu_type"]
        constraints = [models.UniqueConstraint(fields=["cluster", "gpu_type"], name="cluster_gpu_type_once")]

    def __str__(self) -> str:
        return f"{self.cluster}: {self.count} × {self.gpu_type}"


class ContractKind(models.TextChoices):
    RESERVED = "reserved", _("Reserved: paid whether used or not")
    ON_DEMAND = "on_demand", _("On demand: paid for what is used")


class Contract(models.Model):
    """GPUs of one type rented from a provider for a period at a price."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="contracts")
    gpu_type = models.CharField(max_length=16)
    gpus = models.PositiveIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    price_krw_per_gpu_hour = models.DecimalField(max_digits=12, decimal_places=2)
    kind = models.CharField(max_length=16, choices=ContractKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["provider__name", "gpu_type", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")), name="contract_period"
            ),
            models.CheckConstraint(condition=models.Q(gpus__gt=0), name="contract_gpus"),
            models.CheckConstraint(condition=models.Q(price_krw_per_gpu_hour__gte=0), name="contract_price"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.gpus}×{self.gpu_type} {self.starts_on}–{self.ends_on}"
