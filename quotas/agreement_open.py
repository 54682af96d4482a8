"""Opening the agreement of an award from a round: the call's terms as they stand, fingerprinted, so that
what the owner accepts is exactly what was offered (quotas/agreements.py accepts and lapses)."""

import hashlib

from quotas.models import Agreement, Allocation


def terms_digest(terms: str) -> str:
    return hashlib.sha256(terms.encode()).hexdigest()


def agreement_open(allocation: Allocation, deadline) -> Agreement:
    call = allocation.call
    return Agreement.objects.create(
        allocation=allocation,
        terms_version=call.agreement_version,
        terms_sha256=terms_digest(call.agreement_terms),
        deadline=deadline,
    )
