"""The node agent's sender: drains the spool to ``POST /api/v1/usage`` in batches, oldest first.

A batch leaves the spool only once the portal has answered 200 for it: accepted and duplicate records
are done, rejected ones can never be accepted (logged, then dropped). Connection trouble, 5xx and a
refused node key keep the batch and back off exponentially with jitter; sending is at least once, and
the portal applies each record id once.

A 400 whose error envelope names fields of particular records (``records.<index>.<field>``) means those
records are malformed and would block the spool for ever: they are set aside in the spool's
``dead_records`` table (kept for an operator, never sent again) and the rest is sent at once. A 400 about
anything else (portal and agent disagree on the envelope) is retried with backoff like an outage,
without setting anything aside.
"""

import logging
import re
import time
from collections.abc import Callable
from enum import StrEnum

from workers.portal_client import (
    Backoff,
    PortalAuthError,
    PortalClient,
    PortalError,
    PortalRejected,
    PortalUnavailable,
)
from workers.spool import Spool

log = logging.getLogger(__name__)

BATCH_SIZE = 500
_RECORD_FIELD = re.compile(r"^records\.(\d+)\.(.+)$")


class SendOutcome(StrEnum):
    SENT = "sent"  # a batch was answered and acknowledged
    IDLE = "idle"  # nothing to send
    WAITING = "waiting"  # backing off after a failure
    FAILED = "failed"  # this try failed; backing off now
    SET_ASIDE = "set_aside"  # malformed records were set aside; the rest can go at once


class Sender:
    def __init__(
        self,
        spool: Spool,
        client: PortalClient,
        *,
        batch_size: int = BATCH_SIZE,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.spool = spool
        self.client = client
        self.batch_size = batch_size
        self.backoff = backoff or Backoff(base=1.0, cap=300.0)
        self.clock = clock
        self.next_attempt_at = 0.0
        self.sent = self.rejected = self.buried = 0

    def step(self, now: float | None = None) -> SendOutcome:
        """Send at most one batch."""
        now = self.clock() if now is None else now
        if now < self.next_attempt_at:
            return SendOutcome.WAITING
        batch = self.spool.pending(self.batch_size)
        if not batch:
            return SendOutcome.IDLE
        try:
            response = self.client.post_usage(
                [record.wire for record in batch], retries=0, spool_backlog=self._backlog() - len(batch)
            )
        except PortalRejected as error:
            malformed = _malformed_records(error.body, len(batch))
            if error.status == 400 and malformed:
                return self._set_aside(batch, malformed)
            return self._failed(now, error)
        except (PortalUnavailable, PortalAuthError, PortalError) as error:
            return self._failed(now, error)
        for rejection in response.rejected:
            log.error(
                "the portal rejected usage record %s for good: %s",
                rejection.id,
                rejection.reason,
                extra={"job_id": rejection.id.partition(":")[0]},
            )
        self.spool.ack(record.id for record in batch)
        self.sent += len(batch)
        self.rejected += len(response.rejected)
        self.backoff.success()
        return SendOutcome.SENT

    def drain(self, now: float | None = None, *, max_batches: int = 1_000_000) -> SendOutcome:
        """Send batches until the spool is empty or a send fails; the last outcome."""
        outcome = SendOutcome.IDLE
        for _ in range(max_batches):
            outcome = self.step(now)
            if outcome not in (SendOutcome.SENT, SendOutcome.SET_ASIDE):
                break
        return outcome

    def _failed(self, now: float, error: Exception) -> SendOutcome:
        delay = self.backoff.failure()
        self.next_attempt_at = now + delay
        level = logging.ERROR if isinstance(error, PortalAuthError | PortalRejected) else logging.WARNING
        log.log(
            level,
            "sending usage failed (%s); %d records wait; next try in %.1f s",
            error,
            self._backlog(),
            delay,
        )
        return SendOutcome.FAILED

    def _set_aside(self, batch, malformed: dict[int, list[str]]) -> SendOutcome:
        for index, problems in sorted(malformed.items()):
            record_id = batch[index].id
            self.spool.bury([record_id], "; ".join(problems)[:2000])
            log.error(
                "the portal finds usage record %s malformed (%s); set aside in the spool",
                record_id,
                problems,
                extra={"job_id": record_id.partition(":")[0]},
            )
        self.buried += len(malformed)
        return SendOutcome.SET_ASIDE

    def _backlog(self) -> int:
        return self.spool.backlog().count


def _malformed_records(body: object, batch_size: int) -> dict[int, list[str]]:
    """{index in the batch: ["field: message", …]} from an envelope's ``records.<index>.<field>`` errors."""
    fields = (
        body.get("extra", {}).get("fields")
        if isinstance(body, dict) and isinstance(body.get("extra"), dict)
        else None
    )
    found: dict[int, list[str]] = {}
    for name, messages in (fields or {}).items():
        match = _RECORD_FIELD.match(str(name))
        if match and int(match.group(1)) < batch_size:
            found.setdefault(int(match.group(1)), []).append(f"{match.group(2)}: {messages}")
    return found
