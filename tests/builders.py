"""Small builders for test data. They go through the services, so tests exercise the real rules."""

import itertools
from datetime import date, timedelta

from django.utils import timezone

from portal.accounts.models import User
from portal.applications import services as application_services
from portal.applications.models import Application, Review
from portal.calls.models import Call
from portal.organisations.models import Invitation, Membership, Organisation
from portal.organisations.services import organisation_create, organisation_verify
from quotas import services as quota_services
from quotas.calls import call_create

_counter = itertools.count(1)
PASSWORD = "correct-horse-battery"


def make_user(email: str | None = None, *, staff: bool = False, reviewer: bool = False, **fields) -> User:
    email = email or f"user{next(_counter)}@example.test"
    return User.objects.create_user(
        email=email, password=PASSWORD, is_staff=staff, is_reviewer=reviewer, **fields
    )


def make_org(
    owner: User,
    *,
    name: str | None = None,
    org_type: str = "sme",
    region: str = "",
    verified: bool = True,
    staff=None,
) -> Organisation:
    number = next(_counter)
    organisation = organisation_create(
        creator=owner,
        name=name or f"Org {number}",
        org_type=org_type,
        registration_number=f"REG-{number:06d}",
        region=region,
    )
    if verified:
        organisation_verify(organisation=organisation, staff=staff or make_user(staff=True))
        organisation.refresh_from_db()
    return organisation


def add_member(organisation: Organisation, user: User, role: str = "member") -> Membership:
    return Membership.objects.create(organisation=organisation, user=user, role=role)


def make_call(
    staff: User,
    *,
    pools: dict[str, tuple[int, int]] | None = None,
    eligible: list[str] | None = None,
    open_now: bool = True,
    **fields,
) -> Call:
    """pools: gpu_type → (total GPU-hours, max per application)."""
    now = timezone.now()
    pools = pools or {"A100": (100_000, 20_000), "H100": (50_000, 10_000)}
    opens_at = now - timedelta(days=1) if open_now else now + timedelta(days=10)
    return call_create(
        staff=staff,
        title=fields.pop("title", f"Call {next(_counter)}"),
        description=fields.pop("description", "Test call"),
        opens_at=fields.pop("opens_at", opens_at),
        closes_at=fields.pop("closes_at", opens_at + timedelta(days=30)),
        eligible_org_types=eligible
        or ["sme", "startup", "university", "public_institution", "research_institute"],
        allocation_start=fields.pop("allocation_start", date.today()),
        allocation_end=fields.pop("allocation_end", date.today() + timedelta(days=365)),
        pools=[
            {"gpu_type": t, "total_gpu_hours": total, "max_gpu_hours_per_application": cap}
            for t, (total, cap) in pools.items()
        ],
    )


def application_content(call: Call, **overrides) -> dict:
    content = dict(
        project_title="Korean LLM fine-tuning",
        summary="Fine-tune a 7B model on public Korean text.",
        field="nlp",
        requested_start=call.allocation_start,
        requested_end=call.allocation_start + timedelta(days=90),
        max_concurrent_gpus=8,
        justification="We have no GPUs of our own.",
        gpu_requests={"A100": 2000},
    )
    content.update(overrides)
    return content


def make_application(user: User, organisation: Organisation, call: Call, **overrides) -> Application:
    return application_services.application_create(
        user=user, organisation=organisation, call=call, **application_content(call, **overrides)
    )


def submitted(application: Application, user: User) -> Application:
    return application_services.application_submit(application=application, user=user)


def under_review(application: Application, staff: User, reviewer: User) -> Application:
    application_services.review_assign(application=application, staff=staff, reviewers=[reviewer])
    application.refresh_from_db()
    return application


def scored(application: Application, reviewer: User, score: int = 4) -> Review:
    review = Review.objects.get(application=application, reviewer=reviewer, round=application.review_round)
    return application_services.review_submit(
        review=review,
        reviewer=reviewer,
        technical_merit=score,
        feasibility=score,
        impact=score,
        need_for_public_compute=score,
        public_comment="Solid plan.",
        private_comment="Team is small.",
    )


def ready_for_decision(
    user: User, organisation: Organisation, call: Call, staff: User, reviewer: User, **overrides
) -> Application:
    application = submitted(make_application(user, organisation, call, **overrides), user)
    application = under_review(application, staff, reviewer)
    scored(application, reviewer)
    application.refresh_from_db()
    return application


# --- Added for the service test suite -------------------------------------------------------------


def row_counts() -> dict[str, int]:
    """How many rows each table holds; compare before and after to prove a refused call wrote nothing."""
    from portal.accounts.models import ApiKey
    from portal.applications.models import ApplicationGpuRequest
    from portal.audit.models import AuditEvent
    from portal.notifications.models import Notification
    from quotas.models import Allocation, AllocationBudget, CallPool

    models = (
        User,
        ApiKey,
        Organisation,
        Membership,
        Invitation,
        Call,
        CallPool,
        Application,
        ApplicationGpuRequest,
        Review,
        Allocation,
        AllocationBudget,
        AuditEvent,
        Notification,
    )
    return {model._meta.label: model.objects.count() for model in models}


def decided(
    application: Application,
    staff: User,
    decision: str,
    *,
    reason: str = "Panel decision",
    awarded_gpu_hours: dict[str, int] | None = None,
) -> Application:
    quota_services.application_decide(
        application=application,
        staff=staff,
        decision=decision,
        reason=reason,
        awarded_gpu_hours=awarded_gpu_hours,
    )
    application.refresh_from_db()
    return application


def application_in_state(
    state: str,
    *,
    user: User,
    organisation: Organisation,
    call: Call,
    staff: User,
    reviewer: User,
    **overrides,
) -> Application:
    """An application brought to ``state`` through the services (one reviewer, one submitted score)."""
    application = make_application(user, organisation, call, **overrides)
    if state == "draft":
        return application
    if state == "withdrawn":
        application_services.application_withdraw(
            application=application, user=user, reason="Changed our plans"
        )
        application.refresh_from_db()
        return application
    application = submitted(application, user)
    if state == "submitted":
        return application
    application = under_review(application, staff, reviewer)
    if state == "under_review":
        return application
    scored(application, reviewer)
    if state in ("approved", "rejected"):
        return decided(application, staff, "approve" if state == "approved" else "reject")
    application = decided(application, staff, "request_revision", reason="Say more about the data")
    if state == "revision_requested":
        return application
    application = submitted(application, user)
    assert state == "resubmitted", state
    return application


def approved(
    user: User,
    organisation: Organisation,
    call: Call,
    staff: User,
    reviewer: User,
    *,
    awarded_gpu_hours: dict[str, int] | None = None,
    **overrides,
):
    """An approved application's allocation."""
    from quotas.models import Allocation

    application = ready_for_decision(user, organisation, call, staff, reviewer, **overrides)
    decided(application, staff, "approve", awarded_gpu_hours=awarded_gpu_hours)
    return Allocation.objects.get(application=application)


def change_request_ready(
    user: User,
    allocation,
    staff: User,
    reviewer: User,
    *,
    requested_end: date | None = None,
    max_concurrent_gpus: int | None = None,
    gpu_requests: dict[str, int] | None = None,
    justification: str = "The first runs went well; we need more.",
) -> Application:
    """A change request for ``allocation``, submitted, assigned and scored: ready for a decision."""
    application = quota_services.change_request_create(
        user=user,
        allocation=allocation,
        requested_end=requested_end or allocation.ends_on,
        max_concurrent_gpus=max_concurrent_gpus or allocation.max_concurrent_gpus,
        justification=justification,
        gpu_requests={"A100": 500} if gpu_requests is None else gpu_requests,
    )
    application = under_review(submitted(application, user), staff, reviewer)
    scored(application, reviewer)
    application.refresh_from_db()
    return application


def allowing_custom_images(allocation):
    """``allocation``, allowed to run jobs' own images (tests about scheduling, not the catalogue)."""
    type(allocation).objects.filter(pk=allocation.pk).update(allow_custom_images=True)
    allocation.allow_custom_images = True
    return allocation


def queued_job(user: User, allocation, name: str = "test job"):
    """A one-GPU A100 training job submitted against ``allocation`` (the inventory must be synced)."""
    from scheduler.services import job_submit

    return job_submit(
        user=user,
        allocation=allowing_custom_images(allocation),
        name=name,
        kind="training",
        image="python:3.11",
        command=["python", "-c", "print(1)"],
        gpu_type="A100",
        gpus_per_pod=1,
        max_runtime_minutes=10,
    )
