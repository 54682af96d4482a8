"""Finding one of the caller's allocations by its id or by its project title."""

import uuid

from gpugrant_cli.api import ApiClient
from gpugrant_cli.errors import NotFoundError, UsageError


def is_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def allocation_resolve(client: ApiClient, reference: str, *, active_only: bool = True) -> str:
    """The id of the allocation ``reference`` names: an id as it is, a project title (any case) looked up.

    Only active allocations can take jobs, so a title matches among those unless ``active_only`` is off.
    """
    reference = reference.strip()
    if is_id(reference):
        return reference
    params = {"status": "active"} if active_only else {}
    allocations = list(client.get_all("allocations", params))
    wanted = reference.casefold()
    matches = [a for a in allocations if str(a.get("project_title", "")).strip().casefold() == wanted]
    if len(matches) == 1:
        return matches[0]["id"]
    if matches:
        choices = [
            f"{a['id']}  ({a.get('organisation_name', '')}, until {a.get('ends_on', '?')})" for a in matches
        ]
        raise UsageError(
            f"{len(matches)} allocations are titled {reference!r}; give one by its id.",
            fields={"allocation": choices},
        )
    titles = sorted({str(a.get("project_title", "")) for a in allocations})
    raise NotFoundError(
        f"No {'active ' if active_only else ''}allocation of yours is titled {reference!r}.",
        hint=f"Yours: {', '.join(repr(t) for t in titles)}." if titles else "You have no allocation yet.",
    )
