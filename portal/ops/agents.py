"""A node agent's usage report as operations sees it: how late its records came, what it still holds."""

from django.utils import timezone

from portal.ops.metrics import usage_arrived
from portal.ops.stats import agent_report_recorded


def usage_report_received(*, node: str, interval_ends: list[float], spool_backlog_header: str | None) -> None:
    """A node agent's usage POST: its lag per record, its report time and what it still has spooled."""
    now = timezone.now()
    usage_arrived(interval_ends=interval_ends, now=now.timestamp())
    text = (spool_backlog_header or "").strip()
    backlog = None
    if text.isascii() and text.isdigit():
        # int() refuses more than 4,300 digits; more than 19 are past the clamp anyway.
        digits = text.lstrip("0") or "0"
        backlog = min(int(digits), 2**62) if len(digits) <= 19 else 2**62
    agent_report_recorded(node=node, now=now, spool_backlog=backlog)
