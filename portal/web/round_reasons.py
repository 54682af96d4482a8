"""The words for a round line's reason, from its code and figures (quotas/rounds/proposal.py)."""

from django.utils.translation import gettext as _

from portal.organisations.models import OrganisationType


def reason_text(reason: str, params: dict) -> str:
    p = params or {}
    if reason == "awarded":
        return _("Awarded at rank %(rank)s.") % {"rank": p.get("rank", "?")}
    if reason == "pool_full":
        return _("The %(track)s %(gpu_type)s pool had %(left)s GPU-hours left.") % {
            "track": p.get("track", ""),
            "gpu_type": p.get("gpu_type", ""),
            "left": f"{p.get('left', 0):,}",
        }
    if reason == "held_for_shares":
        return _("What was left (%(left)s GPU-hours) was held for the shares of: %(groups)s.") % {
            "left": f"{p.get('left', 0):,}",
            "groups": ", ".join(group_name(g) for g in p.get("groups", [])),
        }
    if reason == "org_hours_cap":
        return _("The organisation would pass the cap of %(cap)s GPU-hours (it has %(has)s).") % {
            "cap": f"{p.get('cap', 0):,}",
            "has": f"{p.get('has', 0):,}",
        }
    if reason == "org_awards_cap":
        return _("The organisation would pass the cap of %(cap)s awards (it has %(has)s).") % {
            "cap": p.get("cap", 0),
            "has": p.get("has", 0),
        }
    if reason == "no_pool":
        return _("Its track offers no pool of that GPU type.")
    if reason == "organisation_unverified":
        return _("Its organisation is not verified.")
    if reason == "no_track":
        return _("It has no track, or asks for more than one GPU type.")
    return reason


def group_name(group: str) -> str:
    if group == "non_capital":
        return _("outside the capital area")
    if group.startswith("sector:"):
        code = group.split(":", 1)[1]
        return str(dict(OrganisationType.choices).get(code, code))
    return group
