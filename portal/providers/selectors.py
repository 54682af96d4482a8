"""Reading providers: the public facts any signed-in user may see (no contacts, prices or connections)."""

from dataclasses import dataclass

from portal.providers.models import Cluster, ClusterGpus, ClusterState, Contract, ContractKind, Provider


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


@dataclass(frozen=True)
class ClusterRow:
    pk: int
    name: str
    provider_id: int
    region: str
    state: str


def cluster_rows() -> list[ClusterRow]:
    return [
        ClusterRow(*row)
        for row in Cluster.objects.values_list("pk", "name", "provider_id", "region", "state")
    ]


def allowed_clusters(
    clusters,
    *,
    providers=frozenset(),
    region: str = "",
    job_provider: int | None = None,
    job_region: str = "",
) -> frozenset[str] | None:
    """The names of the clusters a job may run in: its allocation's pins (``providers``, ``region``; empty:
    any) narrowed by its own (``job_provider``, ``job_region``). None where nothing is pinned (any node,
    a cluster's or not)."""
    if not providers and not region and job_provider is None and not job_region:
        return None
    return frozenset(
        c.name
        for c in clusters
        if (not providers or c.provider_id in providers)
        and (not region or c.region == region)
        and (job_provider is None or c.provider_id == job_provider)
        and (not job_region or c.region == job_region)
    )


def cluster_costs(today) -> dict[tuple[int, str], float]:
    """(provider, GPU type) → what placing a job there costs, lower first among equal fits: 0 where a
    reserved contract covers today (already paid for), else 1 + the cheapest on-demand price per
    GPU-hour; a pair without a contract today is missing (costs 0: capacity no contract prices)."""
    costs: dict[tuple[int, str], float] = {}
    for provider_id, gpu_type, kind, price in Contract.objects.filter(
        starts_on__lte=today, ends_on__gte=today
    ).values_list("provider_id", "gpu_type", "kind", "price_krw_per_gpu_hour"):
        cost = 0.0 if kind == ContractKind.RESERVED else 1.0 + float(price)
        key = (provider_id, gpu_type)
        costs[key] = min(costs.get(key, cost), cost)
    return costs
