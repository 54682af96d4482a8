"""Reading the environments catalogue, including the submission path's per-process view of it."""

import time
from dataclasses import dataclass

from django.db.models import QuerySet

from portal.environments.models import Environment

# How long a process trusts the active catalogue it read (like scheduler.services.NODE_SIZES_TTL_S):
# the submission path then resolves a name without a statement. Staff edits are seen at once in the
# process that made them and within this window elsewhere.
CATALOGUE_TTL_S = 5.0


@dataclass(frozen=True)
class ActiveEnvironment:
    name: str
    image: str
    kinds: tuple[str, ...]


_catalogue: tuple[float, dict[str, ActiveEnvironment]] | None = None


def environments_active() -> QuerySet[Environment]:
    return Environment.objects.filter(active=True).order_by("name")


def environments_all() -> QuerySet[Environment]:
    return Environment.objects.order_by("-active", "name")


def environment_to_run(name: str) -> ActiveEnvironment | None:
    """The active environment called ``name``, from a catalogue read at most CATALOGUE_TTL_S ago."""
    global _catalogue
    now = time.monotonic()
    if _catalogue is None or now - _catalogue[0] >= CATALOGUE_TTL_S:
        _catalogue = (
            now,
            {
                e.name: ActiveEnvironment(name=e.name, image=e.image, kinds=tuple(e.kinds))
                for e in environments_active().only(
                    "name", "image", "for_training", "for_inference", "for_sessions"
                )
            },
        )
    return _catalogue[1].get(name)


def environment_cache_forget() -> None:
    global _catalogue
    _catalogue = None
