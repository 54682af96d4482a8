"""Where a job may run: its allocation's pins (providers, region) narrowed by its own, checked when it
is submitted and turned into the clusters the planner may use (docs/providers.md, "Pins")."""

from django.utils.translation import gettext as _

from portal.providers.models import ClusterGpus, Provider, Region
from portal.providers.selectors import allowed_clusters, cluster_rows
from quotas.models import Allocation
from scheduler.models import GpuNode


def pinned_providers(allocation_ids) -> dict[int, frozenset[int]]:
    """Allocation → the providers it pins its jobs to; allocations that pin none are absent."""
    pinned: dict[int, set[int]] = {}
    through = Allocation.providers.through.objects.filter(allocation_id__in=allocation_ids)
    for allocation_id, provider_id in through.values_list("allocation_id", "provider_id"):
        pinned.setdefault(allocation_id, set()).add(provider_id)
    return {pk: frozenset(providers) for pk, providers in pinned.items()}


def _offered_gpu_types() -> dict[str, set[str]]:
    """Cluster name → the GPU types it offers: those registered for it and those of its nodes."""
    offered: dict[str, set[str]] = {}
    for name, gpu_type in ClusterGpus.objects.values_list("cluster__name", "gpu_type"):
        offered.setdefault(name, set()).add(gpu_type)
    for name, gpu_type in GpuNode.objects.filter(cluster__isnull=False).values_list(
        "cluster__name", "gpu_type"
    ):
        offered.setdefault(name, set()).add(gpu_type)
    return offered


def job_pin_errors(
    allocation: Allocation, *, provider: str, region: str, gpu_type: str
) -> tuple[int | None, dict]:
    """The pinned provider's id (None: not pinned) and field errors: an unknown provider or region, a
    pin wider than the allocation's, or pins no cluster offering ``gpu_type`` satisfies."""
    errors: dict[str, list[str]] = {}
    provider_id = None
    if region and region not in Region.values:
        errors["region"] = [_("One of: %(choices)s.") % {"choices": ", ".join(Region.values)}]
    if provider:
        provider_id = Provider.objects.filter(name=provider).values_list("pk", flat=True).first()
        if provider_id is None:
            errors["provider"] = [_("No such provider (see GET /api/v1/providers).")]
    allocation_region = allocation.region
    if not (getattr(allocation, "pins_providers", True) or allocation_region or provider or region):
        return None, errors  # nothing pinned: any node (known without a query where the lookup said so)
    pinned = pinned_providers([allocation.pk]).get(allocation.pk, frozenset())
    if not (pinned or allocation_region or provider or region):
        return None, errors
    if provider_id is not None and pinned and provider_id not in pinned:
        names = Provider.objects.filter(pk__in=pinned).order_by("name").values_list("name", flat=True)
        errors["provider"] = [_("Your allocation runs only on: %(names)s.") % {"names": ", ".join(names)}]
    if region and allocation_region and region != allocation_region:
        errors["region"] = [
            _("Your allocation runs only in the region %(region)s.") % {"region": allocation_region}
        ]
    if errors:
        return provider_id, errors
    names = allowed_clusters(
        cluster_rows(),
        providers=pinned,
        region=allocation_region,
        job_provider=provider_id,
        job_region=region,
    )
    if names is not None:
        offered = _offered_gpu_types()
        if not any(gpu_type in offered.get(name, ()) for name in names):
            field = "provider" if provider else "region" if region else "gpu_type"
            errors[field] = [
                _("No cluster where this job may run offers %(gpu_type)s.") % {"gpu_type": gpu_type}
            ]
    return provider_id, errors
