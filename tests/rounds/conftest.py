"""A call with two tracks, its levers, and applications scored by one reviewer, ready for a round."""

from datetime import timedelta

import pytest

from portal.organisations.models import Organisation
from quotas.round_setup import call_levers_set, call_tracks_set
from tests import builders

TRACKS = [
    {
        "code": "small",
        "name": "1–4 GPUs",
        "min_gpus": 1,
        "max_gpus": 4,
        "max_days": 300,
        "stage_months": [5, 5],
        "pools": {"A100": 6_000},
    },
    {
        "code": "large",
        "name": "Whole servers",
        "min_gpus": 8,
        "max_gpus": 64,
        "max_days": 365,
        "pools": {"H100": 20_000},
    },
]


@pytest.fixture
def round_call(staff):
    call = builders.make_call(staff, pools={"A100": (50_000, 20_000), "H100": (50_000, 20_000)})
    call_tracks_set(staff=staff, call=call, tracks=TRACKS)
    call_levers_set(
        staff=staff,
        call=call,
        levers={"agreement_terms": "Use the GPUs for the project only.", "agreement_version": "2026-1"},
    )
    return call


def small(call, **overrides):
    return {
        "track": "small",
        "max_concurrent_gpus": 4,
        "requested_end": call.allocation_start + timedelta(days=300),
        "gpu_requests": {"A100": 2_000},
        **overrides,
    }


@pytest.fixture
def applicants(round_call, staff, reviewer):
    """Four organisations (one outside the capital area, one unverified), one small-track application each,
    scored 5, 4, 3, 2 by the one reviewer: ranks 1–4 in that order."""
    made = []
    for score, (org_type, region, verified) in zip(
        (5, 4, 3, 2),
        [("university", "capital", True), ("sme", "non_capital", True), ("startup", "capital", True),
         ("university", "capital", False)],
        strict=True,
    ):  # fmt: skip
        owner = builders.make_user()
        org = builders.make_org(owner, org_type=org_type, verified=verified, staff=staff)
        Organisation.objects.filter(pk=org.pk).update(region=region)
        app = builders.make_application(
            owner, org, round_call, **small(round_call, project_title=f"P{score}")
        )
        app = builders.under_review(builders.submitted(app, owner), staff, reviewer)
        builders.scored(app, reviewer, score)
        app.refresh_from_db()
        made.append(app)
    return made
