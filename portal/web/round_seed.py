"""A seeded allocation round for tests, the demo and staff training (``manage.py seed_round``).

Shaped like the March 2026 round the issue cites: about three times as many GPU-hours asked as can be
awarded; organisations of every type, about 45 % outside the capital area, some applying more than once;
two tracks (1–4 GPUs on A100, staged 5 + 5 months; whole servers of 8–64 GPUs on H100); twelve reviewers,
some strict and some lenient, three per application, scores 1–5 around each project's hidden quality.
Everything goes through the services (applications created, submitted, reviewers assigned without
conflicts of interest, reviews submitted), so the data is what the portal would hold. Deterministic for
a given seed.
"""

import random
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from portal.accounts.models import User
from portal.applications import services as applications
from portal.applications.models import CRITERIA, Review
from portal.calls.models import Call
from portal.organisations.models import Organisation
from portal.organisations.services import organisation_create, organisation_verify
from quotas.calls import call_create
from quotas.round_setup import call_levers_set, call_tracks_set

SECTORS = (
    ("university", 0.45),
    ("sme", 0.25),
    ("startup", 0.12),
    ("research_institute", 0.12),
    ("public_institution", 0.06),
)
TRACKS = [
    {
        "code": "small",
        "name": "1–4 GPUs",
        "min_gpus": 1,
        "max_gpus": 4,
        "max_days": 300,
        "stage_months": [5, 5],
        "gpu_type": "A100",
        "hours": (500, 1000, 2000, 4000),
    },
    {
        "code": "servers",
        "name": "Whole servers (8–64 GPUs)",
        "min_gpus": 8,
        "max_gpus": 64,
        "max_days": 365,
        "stage_months": [],
        "gpu_type": "H100",
        "hours": (8000, 16000, 32000),
    },
]
TERMS = (
    "1. The GPU-hours are for the awarded project only; resale or commercial use by others is misuse.\n"
    "2. Usage is checked monthly; GPU-hours left unused may be reclaimed.\n"
    "3. The organisation reports its outcomes at each stage's end and at the award's end."
)
REVIEWERS = 12
PASSWORD = "demo"


@dataclass
class Seeded:
    call: Call
    staff: User
    applications: int
    organisations: int
    owners: list[User]


@cache
def _password_hash(password: str) -> str:
    # hashed once: a few hundred users each hashing it would take most of a minute
    return make_password(password)


def _user(email: str, name: str, password: str, **flags) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, full_name=name, **flags)
        User.objects.filter(pk=user.pk).update(password=_password_hash(password))
    return user


@transaction.atomic  # all of it or nothing, and one commit instead of thousands
def seed_round(
    *,
    applications_count: int = 500,
    seed: int = 1,
    tag: str = "",
    staff: User | None = None,
    password: str = PASSWORD,
) -> Seeded:
    """A new call with ``applications_count`` reviewed applications, ready for its round."""
    rng = random.Random(seed)
    tag = tag or f"s{seed}"
    staff = staff or _user(f"round-staff-{tag}@example.test", "Round Staff", password, is_staff=True)
    now = timezone.now()
    today = timezone.localdate()
    call = call_create(
        staff=staff,
        title=f"Allocation round {tag} ({applications_count} applications)",
        description="A seeded round: manage.py seed_round.",
        opens_at=now - timedelta(days=30),
        closes_at=now + timedelta(days=1),
        eligible_org_types=[s for s, _ in SECTORS],
        allocation_start=today + timedelta(days=7),
        allocation_end=today + timedelta(days=400),
        pools=[
            {
                "gpu_type": "A100",
                "total_gpu_hours": 60 * applications_count * 10,
                "max_gpu_hours_per_application": 4000,
            },
            {
                "gpu_type": "H100",
                "total_gpu_hours": 60 * applications_count * 100,
                "max_gpu_hours_per_application": 32000,
            },
        ],
    )
    # about a third of what is asked: small 250 × ~1,900 → 160 per application; servers 250 × ~18,700 → 1,600
    call_tracks_set(
        staff=staff,
        call=call,
        tracks=[
            {**{k: v for k, v in t.items() if k not in ("gpu_type", "hours")},
             "pools": {t["gpu_type"]: (320 if t["code"] == "small" else 3_200) * applications_count}}
            for t in TRACKS
        ],
    )  # fmt: skip
    call_levers_set(
        staff=staff,
        call=call,
        levers={
            "sector_shares": {"university": 0.4, "sme": 0.15, "research_institute": 0.05},
            "regional_share": 0.2,
            "regional_bonus": 0.2,
            "max_awards_per_org": 2,
            "agreement_terms": TERMS,
            "agreement_version": "2026-R1",
            "agreement_days": 14,
        },
    )
    reviewers = [
        _user(f"round-reviewer-{tag}-{i:02d}@example.test", f"Reviewer {i:02d}", password, is_reviewer=True)
        for i in range(REVIEWERS)
    ]
    strictness = {r.pk: rng.uniform(-1.2, 1.2) for r in reviewers}
    orgs: list[tuple[Organisation, User]] = []
    for i in range(max(1, applications_count * 3 // 5)):
        owner = _user(f"round-owner-{tag}-{i:03d}@example.test", f"Owner {i:03d}", password)
        sector = rng.choices([s for s, _ in SECTORS], [w for _, w in SECTORS])[0]
        org = organisation_create(
            creator=owner,
            name=f"Org {tag}-{i:03d}",
            org_type=sector,
            registration_number=f"R-{tag}-{i:05d}",
            region="non_capital" if rng.random() < 0.45 else "capital",
        )
        organisation_verify(organisation=org, staff=staff)
        orgs.append((org, owner))
    tracks = {t.code: t for t in call.tracks.all()}
    for i in range(applications_count):
        org, owner = orgs[i] if i < len(orgs) else rng.choice(orgs)
        spec = TRACKS[i % 2]
        gpus = rng.randint(spec["min_gpus"], min(spec["max_gpus"], 4 if spec["code"] == "small" else 32))
        start = call.allocation_start
        app = applications.application_create(
            user=owner,
            organisation=org,
            call=call,
            project_title=f"Project {tag}-{i:03d}",
            summary="Training and evaluating models on public data.",
            field=rng.choice(["nlp", "vision", "speech", "science", "health", "robotics"]),
            requested_start=start,
            requested_end=start + timedelta(days=tracks[spec["code"]].max_days - 1),
            max_concurrent_gpus=gpus,
            justification="No GPUs of our own.",
            gpu_requests={spec["gpu_type"]: rng.choice(spec["hours"])},
            track=spec["code"],
        )
        applications.application_submit(application=app, user=owner)
        panel = rng.sample(reviewers, 3)
        applications.review_assign(application=app, staff=staff, reviewers=panel)
        quality = rng.gauss(3.2, 0.8)
        for reviewer in panel:
            score = {
                c: max(1, min(5, round(quality + strictness[reviewer.pk] + rng.gauss(0, 0.4))))
                for c in CRITERIA
            }
            applications.review_submit(
                review=Review.objects.get(application=app, reviewer=reviewer),
                reviewer=reviewer,
                **score,
            )
    Call.objects.filter(pk=call.pk).update(closes_at=now)  # the call closed: the round can be run
    call.refresh_from_db()
    return Seeded(call, staff, applications_count, len(orgs), [owner for _org, owner in orgs])
