"""Writing applications and reviews: create, edit, submit, withdraw, assign, score, decide."""

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.accounts.models import User
from portal.applications.fields import CONTENT_FIELDS
from portal.applications.models import CRITERIA, Application, ApplicationGpuRequest, ApplicationKind, Review
from portal.applications.selectors import current_round_reviews
from portal.applications.states import EDITABLE_STATES, Action, State
from portal.applications.transitions import apply_transition, ensure_transition, lock_application
from portal.applications.validation import application_content_errors, track_errors
from portal.audit.services import audit_record
from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.services import notify
from portal.organisations.models import Organisation
from portal.organisations.selectors import membership_of, organisation_ids_of, owners_and_managers
from portal.state_names import STATE_NAMES, state_name


def _applicant_recipients(application: Application) -> list[User]:
    return [application.created_by, *owners_and_managers(application.organisation)]


def _staff_recipients() -> list[User]:
    return list(User.objects.filter(is_staff=True, is_active=True))


def _link(application: Application) -> str:
    from django.conf import settings

    return f"{settings.PORTAL_BASE_URL}/applications/{application.public_id}/"


def _require_member(user: User, organisation: Organisation) -> None:
    if membership_of(user, organisation) is None:
        raise NotAllowed(_("Only members of the organisation can do this."))


def _save_gpu_requests(application: Application, gpu_requests: dict[str, int]) -> None:
    application.gpu_requests.all().delete()
    ApplicationGpuRequest.objects.bulk_create(
        ApplicationGpuRequest(application=application, gpu_type=gpu_type, gpu_hours=hours)
        for gpu_type, hours in sorted(gpu_requests.items())
        if hours > 0
    )


def application_create(
    *,
    user: User,
    organisation: Organisation,
    call,
    project_title: str,
    summary: str,
    field: str,
    requested_start: date,
    requested_end: date,
    max_concurrent_gpus: int,
    justification: str,
    gpu_requests: dict[str, int],
    track: str | None = None,
) -> Application:
    """A new draft application of ``organisation`` to an open ``call`` (in ``track``, by its code, where
    the call has tracks)."""
    _require_member(user, organisation)
    if not call.is_open():
        raise Conflict(
            _("The call '%(title)s' is %(status)s; applications are not accepted.")
            % {"title": call.title, "status": state_name(call.status)},
            code="call_closed",
        )
    if organisation.org_type not in call.eligible_org_types:
        raise InvalidInput(
            _("This organisation type is not eligible for the call."),
            fields={
                "organisation": [
                    _("%(org_type)s organisations are not eligible for this call.")
                    % {"org_type": organisation.get_org_type_display()}
                ]
            },
        )
    content = dict(
        project_title=project_title,
        summary=summary,
        field=field,
        requested_start=requested_start,
        requested_end=requested_end,
        max_concurrent_gpus=max_concurrent_gpus,
        justification=justification,
    )
    errors = application_content_errors(
        call=call, kind=ApplicationKind.NEW, allocation=None, gpu_requests=gpu_requests, **content
    )
    more, chosen = track_errors(
        call=call,
        track=track,
        requested_start=requested_start,
        requested_end=requested_end,
        max_concurrent_gpus=max_concurrent_gpus,
        gpu_requests=gpu_requests,
    )
    errors = {**more, **errors}
    if errors:
        raise InvalidInput(_("The application could not be saved."), fields=errors)
    with transaction.atomic():
        application = Application.objects.create(
            kind=ApplicationKind.NEW,
            call=call,
            organisation=organisation,
            created_by=user,
            track=chosen,
            **content,
        )
        _save_gpu_requests(application, gpu_requests)
        audit_record(actor=user, target=application, action="created", to_state=State.DRAFT)
    return application


def change_request_draft(
    *,
    user: User,
    allocation,
    requested_end: date,
    max_concurrent_gpus: int,
    justification: str,
    gpu_requests: dict[str, int],
) -> Application:
    """A draft change request (extension and/or more GPU-hours) for an allocation that may be changed
    (quotas.services.change_request_create checks that first)."""
    _require_member(user, allocation.organisation)
    original = allocation.application
    content = dict(
        project_title=allocation.project_title,
        summary=original.summary,
        field=original.field,
        requested_start=allocation.starts_on,
        requested_end=requested_end,
        max_concurrent_gpus=max_concurrent_gpus,
        justification=justification,
    )
    errors = application_content_errors(
        call=allocation.call,
        kind=ApplicationKind.CHANGE,
        allocation=allocation,
        gpu_requests=gpu_requests,
        **content,
    )
    unchanged = (
        not errors
        and requested_end == allocation.ends_on
        and max_concurrent_gpus == allocation.max_concurrent_gpus
        and not any(gpu_requests.values())
    )
    if unchanged:
        errors["gpu_requests"] = [
            _("Ask for more GPU-hours, a later end date or a different concurrency cap.")
        ]
    if errors:
        raise InvalidInput(_("The change request could not be saved."), fields=errors)
    with transaction.atomic():
        application = Application.objects.create(
            kind=ApplicationKind.CHANGE,
            call=allocation.call,
            organisation=allocation.organisation,
            allocation=allocation,
            created_by=user,
            **content,
        )
        _save_gpu_requests(application, gpu_requests)
        audit_record(actor=user, target=application, action="created", to_state=State.DRAFT)
        audit_record(
            actor=user,
            target=allocation,
            action="change_requested",
            data={"application": str(application.public_id)},
        )
    return application


KEEP = object()


def application_update(
    *, application: Application, user: User, gpu_requests: dict[str, int], track=KEEP, **content
) -> Application:
    """Edit a draft or an application returned for revision (``track``: a track's code; left out: kept)."""
    _require_member(user, application.organisation)
    unknown = set(content) - set(CONTENT_FIELDS)
    if unknown:
        raise InvalidInput(
            _("Unknown fields."), fields={name: [_("Unknown field.")] for name in sorted(unknown)}
        )
    with transaction.atomic():
        application = lock_application(application)
        if application.state not in EDITABLE_STATES:
            raise Conflict(
                _("An application that is %(state)s cannot be edited.")
                % {"state": state_name(application.state)},
                code="not_editable",
            )
        merged = {name: content.get(name, getattr(application, name)) for name in CONTENT_FIELDS}
        if application.kind == ApplicationKind.CHANGE:
            merged["project_title"] = application.project_title
            merged["requested_start"] = application.requested_start
        errors = application_content_errors(
            call=application.call,
            kind=application.kind,
            allocation=application.allocation,
            gpu_requests=gpu_requests,
            **merged,
        )
        if application.kind == ApplicationKind.NEW:
            more, chosen = track_errors(
                call=application.call,
                track=(application.track.code if application.track else None) if track is KEEP else track,
                requested_start=merged["requested_start"],
                requested_end=merged["requested_end"],
                max_concurrent_gpus=merged["max_concurrent_gpus"],
                gpu_requests=gpu_requests,
            )
            errors = {**more, **errors}
            application.track = chosen
        if errors:
            raise InvalidInput(_("The application could not be saved."), fields=errors)
        for name, value in merged.items():
            setattr(application, name, value)
        application.save()
        _save_gpu_requests(application, gpu_requests)
        audit_record(
            actor=user,
            target=application,
            action="edited",
            from_state=application.state,
            to_state=application.state,
        )
    return application


def application_submit(*, application: Application, user: User) -> Application:
    """Submit a draft, or resubmit after a revision request (which starts a new review round)."""
    _require_member(user, application.organisation)
    with transaction.atomic():
        application = lock_application(application)
        action = Action.RESUBMIT if application.state == State.REVISION_REQUESTED else Action.SUBMIT
        ensure_transition(application, action)
        if (
            action == Action.SUBMIT
            and application.kind == ApplicationKind.NEW
            and not application.call.is_open()
        ):
            raise Conflict(
                _("The call has closed; the application can no longer be submitted."), code="call_closed"
            )
        gpu_requests = {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
        errors = application_content_errors(
            call=application.call,
            kind=application.kind,
            allocation=application.allocation,
            gpu_requests=gpu_requests,
            **{name: getattr(application, name) for name in CONTENT_FIELDS},
        )
        if errors:
            raise InvalidInput(_("Fix these fields before submitting."), fields=errors)
        if action == Action.RESUBMIT:
            application.review_round += 1
        application.submitted_at = timezone.now()
        apply_transition(application, action, actor=user)
        notify(
            recipients=_applicant_recipients(application),
            subject=format_lazy(
                gettext_lazy("Application received: {title}"), title=application.project_title
            ),
            body=format_lazy(
                gettext_lazy("Your application '{title}' was {state}.\n{link}"),
                title=application.project_title,
                state=STATE_NAMES.get(application.state, application.state),
                link=_link(application),
            ),
        )
        notify(
            recipients=_staff_recipients(),
            subject=format_lazy(
                gettext_lazy("New application to assign: {title}"), title=application.project_title
            ),
            body=format_lazy(
                gettext_lazy("{organisation} {state} '{title}'.\n{link}"),
                organisation=application.organisation.name,
                state=STATE_NAMES.get(application.state, application.state),
                title=application.project_title,
                link=_link(application),
            ),
        )
    return application


def application_withdraw(*, application: Application, user: User, reason: str = "") -> Application:
    _require_member(user, application.organisation)
    if len(reason) > 2000:
        raise InvalidInput(_("Reason too long."), fields={"reason": [_("At most 2000 characters.")]})
    with transaction.atomic():
        application = lock_application(application)
        apply_transition(application, Action.WITHDRAW, actor=user, reason=reason)
        reviewers = [
            review.reviewer for review in current_round_reviews(application).select_related("reviewer")
        ]
        notify(
            recipients=reviewers,
            subject=format_lazy(
                gettext_lazy("Application withdrawn: {title}"), title=application.project_title
            ),
            body=gettext_lazy("The applicant withdrew this application; no review is needed any more."),
        )
    return application


def _has_conflict_of_interest(reviewer: User, application: Application) -> bool:
    return application.organisation_id in organisation_ids_of(reviewer)


def review_assign(*, application: Application, staff: User, reviewers: list[User]) -> list[Review]:
    """Assign reviewers for the current round; the first assignment starts the review."""
    if not staff.is_staff:
        raise NotAllowed(_("Only staff assign reviewers."))
    if not reviewers:
        raise InvalidInput(_("Choose reviewers."), fields={"reviewers": [_("Choose at least one reviewer.")]})
    problems = []
    for reviewer in reviewers:
        if not (reviewer.is_reviewer and reviewer.is_active):
            problems.append(_("%(email)s is not an active reviewer.") % {"email": reviewer.email})
        elif _has_conflict_of_interest(reviewer, application):
            problems.append(
                _("%(email)s belongs to %(organisation)s (conflict of interest).")
                % {"email": reviewer.email, "organisation": application.organisation.name}
            )
    if problems:
        raise InvalidInput(_("These reviewers cannot be assigned."), fields={"reviewers": problems})
    with transaction.atomic():
        application = lock_application(application)
        if application.state in (State.SUBMITTED, State.RESUBMITTED):
            apply_transition(application, Action.START_REVIEW, actor=staff)
        elif application.state != State.UNDER_REVIEW:
            raise Conflict(
                _("Reviewers cannot be assigned to an application that is %(state)s.")
                % {"state": state_name(application.state)},
                code="illegal_transition",
            )
        already = set(current_round_reviews(application).values_list("reviewer_id", flat=True))
        created = []
        for reviewer in reviewers:
            if reviewer.pk in already:
                continue
            already.add(reviewer.pk)  # the same reviewer listed twice in one request gets one review
            review = Review.objects.create(
                application=application, reviewer=reviewer, round=application.review_round, assigned_by=staff
            )
            audit_record(
                actor=staff, target=application, action="reviewer_assigned", data={"reviewer": reviewer.email}
            )
            created.append(review)
        notify(
            recipients=[review.reviewer for review in created],
            subject=format_lazy(gettext_lazy("Please review: {title}"), title=application.project_title),
            body=format_lazy(
                gettext_lazy("You were asked to review '{title}'.\n{link}"),
                title=application.project_title,
                link=_link(application).replace("/applications/", "/reviews/"),
            ),
        )
    return created


def review_submit(
    *,
    review: Review,
    reviewer: User,
    technical_merit: int,
    feasibility: int,
    impact: int,
    need_for_public_compute: int,
    public_comment: str = "",
    private_comment: str = "",
) -> Review:
    """Record (or correct) a reviewer's scores while the application is under review."""
    if review.reviewer_id != reviewer.pk:
        raise NotAllowed(_("This review is assigned to someone else."))
    scores = dict(
        technical_merit=technical_merit,
        feasibility=feasibility,
        impact=impact,
        need_for_public_compute=need_for_public_compute,
    )
    errors: dict[str, list[str]] = {}
    for name, score in scores.items():
        if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
            errors[name] = [_("A score from 1 to 5 is required.")]
    for name, text in (("public_comment", public_comment), ("private_comment", private_comment)):
        if not isinstance(text, str):
            errors[name] = [_("Must be text.")]
        elif len(text) > 5000:
            errors[name] = [_("At most 5000 characters (got %(length)s).") % {"length": len(text)}]
    if errors:
        raise InvalidInput(_("The review could not be saved."), fields=errors)
    with transaction.atomic():
        application = lock_application(review.application)
        review = Review.objects.select_for_update().get(pk=review.pk)
        if application.state != State.UNDER_REVIEW or review.round != application.review_round:
            raise Conflict(
                _("This application is no longer under review in this round."), code="review_closed"
            )
        if _has_conflict_of_interest(reviewer, application):
            raise NotAllowed(_("You belong to the applicant organisation (conflict of interest)."))
        first = review.submitted_at is None
        for name, score in scores.items():
            setattr(review, name, score)
        review.public_comment = public_comment
        review.private_comment = private_comment
        review.submitted_at = timezone.now()
        review.save()
        audit_record(
            actor=reviewer,
            target=application,
            action="review_submitted" if first else "review_updated",
            data={"reviewer": reviewer.email, **scores},
        )
        pending = current_round_reviews(application).filter(submitted_at__isnull=True).count()
        if first and pending == 0:
            notify(
                recipients=_staff_recipients(),
                subject=format_lazy(
                    gettext_lazy("Reviews complete: {title}"), title=application.project_title
                ),
                body=format_lazy(
                    gettext_lazy("All reviews for '{title}' are in; it is ready for a decision.\n{link}"),
                    title=application.project_title,
                    link=_link(application),
                ),
            )
    return review


DECISIONS = {"approve": Action.APPROVE, "reject": Action.REJECT, "request_revision": Action.REQUEST_REVISION}


def decision_check(*, application: Application, staff: User, decision: str, reason: str) -> None:
    """Raise unless ``staff`` may record ``decision`` with ``reason`` on ``application``."""
    if not staff.is_staff:
        raise NotAllowed(_("Only staff decide applications."))
    errors: dict[str, list[str]] = {}
    if decision not in DECISIONS:
        errors["decision"] = [_("Choose one of: %(choices)s.") % {"choices": ", ".join(DECISIONS)}]
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = [_("Give a reason; the applicant sees it.")]
    elif len(reason) > 2000:
        errors["reason"] = [_("At most 2000 characters.")]
    if errors:
        raise InvalidInput(_("The decision could not be recorded."), fields=errors)
    if membership_of(staff, application.organisation) is not None:
        raise NotAllowed(
            _("You belong to the applicant organisation (conflict of interest); ask another staff member.")
        )


def application_send_back(
    *, application: Application, staff: User, decision: str, reason: str
) -> Application:
    """Reject an application or ask for revision (checked by decision_check); approval is an award
    (quotas.services.application_decide)."""
    with transaction.atomic():
        application = lock_application(application)
        apply_transition(application, DECISIONS[decision], actor=staff, reason=reason)
        application.decided_at = timezone.now() if decision == "reject" else None
        application.decided_by = staff
        application.decision_reason = reason
        application.save(update_fields=["decided_at", "decided_by", "decision_reason", "updated_at"])
        if decision == "reject":
            subject = gettext_lazy("Your application was not approved: {title}")
            body = gettext_lazy("'{title}' was not approved.\n\nReason: {reason}\n\n{link}")
        else:
            subject = gettext_lazy("Your application needs revision: {title}")
            body = gettext_lazy("'{title}' needs revision.\n\nReason: {reason}\n\n{link}")
        notify(
            recipients=_applicant_recipients(application),
            subject=format_lazy(subject, title=application.project_title),
            body=format_lazy(body, title=application.project_title, reason=reason, link=_link(application)),
        )
    return application


def review_scores_summary(application: Application) -> dict[str, float | None]:
    """Average of each criterion over the current round's submitted reviews."""
    reviews = list(current_round_reviews(application).filter(submitted_at__isnull=False))
    summary: dict[str, float | None] = {}
    for criterion in CRITERIA:
        values = [getattr(r, criterion) for r in reviews]
        summary[criterion] = round(sum(values) / len(values), 2) if values else None
    return summary
