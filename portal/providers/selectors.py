"""Reading providers: the public facts any signed-in user may see (no contacts, prices or connections)."""

from dataclasses import dataclass

from portal.providers.models import Cluster, ClusterGpus, ClusterState, Provider


@dataclass(frozen=True)
class ProviderFacts:
    name: str
    regions: list[str]
    gpu_types: list[str]


def providers_public() -> list[ProviderFacts]:
    """Each provider with a cluster that is not offline: its name, the regions and the GPU types it
    offers the programme, from those clusters."""
    live = Cluster.objects.exclude(state=ClusterState.OFFLINE)
    regions: dict[int, set[str]] = {}
    for provider_id, region in live.values_list("provider_id", "region"):
        regions.setdefault(provider_id, set()).add(region)
    gpu_types: dict[int, set[str]] = {}
    for provider_id, gpu_type in ClusterGpus.objects.filter(cluster__in=live).values_list(
        "cluster__provider_id", "gpu_type"
    ):
        gpu_types.setdefault(provider_id, set()).add(gpu_type)
    return [
        ProviderFacts(name, sorted(regions[pk]), sorted(gpu_types.get(pk, ())))
        for pk, name in Provider.objects.filter(pk__in=regions).order_by("name").values_list("pk", "name")
    ]
