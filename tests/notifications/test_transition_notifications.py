"""Each transition tells the right people, once, by a Notification row and (after commit) one email."""

import pytest
from django.core import mail

from portal.applications import services
from portal.notifications.models import Notification
from quotas import services as quota_services
from tests import builders


def _recipients(subject_start: str) -> list[str]:
    return sorted(
        Notification.objects.filter(subject__startswith=subject_start).values_list(
            "recipient__email", flat=True
        )
    )


def _emails(subject_start: str) -> list[str]:
    return sorted(
        address
        for message in mail.outbox
        if message.subject.startswith(f"[gpugrant] {subject_start}")
        for address in message.to
    )


@pytest.fixture
def manager(organisation):
    user = builders.make_user("manager@example.test")
    builders.add_member(organisation, user, role="manager")
    return user


@pytest.mark.django_db
def test_it_tells_applicants_and_staff_about_a_submission(
    teammate, owner, manager, organisation, call, staff, reviewer, django_capture_on_commit_callbacks
):
    second_staff = builders.make_user("staff2@example.test", staff=True)
    builders.make_user("retired-staff@example.test", staff=True, is_active=False)
    application = builders.make_application(teammate, organisation, call)
    mail.outbox.clear()
    earlier = set(Notification.objects.values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        services.application_submit(application=application, user=teammate)

    applicants = sorted([teammate.email, owner.email, manager.email])
    staff_members = sorted([staff.email, second_staff.email])
    assert _recipients("Application received") == applicants
    assert _recipients("New application to assign") == staff_members
    assert reviewer.email not in _recipients("")
    # After commit each notification becomes exactly one email, and is marked sent.
    assert _emails("Application received") == applicants
    assert _emails("New application to assign") == staff_members
    assert len(mail.outbox) == 5
    new = Notification.objects.exclude(pk__in=earlier)
    assert new.count() == 5
    assert set(new.values_list("attempts", flat=True)) == {1}
    assert not new.filter(sent_at=None).exists()


@pytest.mark.django_db
def test_it_sends_nothing_before_commit(owner, organisation, call, django_capture_on_commit_callbacks):
    application = builders.make_application(owner, organisation, call)
    mail.outbox.clear()
    earlier = set(Notification.objects.values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.application_submit(application=application, user=owner)
    assert len(callbacks) == 2  # one per notify() call
    assert mail.outbox == []
    assert Notification.objects.exclude(pk__in=earlier).filter(sent_at=None).count() == 2


@pytest.mark.django_db
def test_it_tells_reviewers_about_their_assignment(
    owner, organisation, call, staff, reviewer, reviewer2, django_capture_on_commit_callbacks
):
    application = builders.submitted(builders.make_application(owner, organisation, call), owner)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.review_assign(application=application, staff=staff, reviewers=[reviewer, reviewer2])
    expected = sorted([reviewer.email, reviewer2.email])
    assert _recipients("Please review") == expected
    assert _emails("Please review") == expected
    assert f"/reviews/{application.public_id}/" in mail.outbox[0].body
    assert len(mail.outbox) == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("decision", "subject"),
    [
        ("approve", "Approved"),
        ("reject", "Your application was not approved"),
        ("request_revision", "Your application needs revision"),
    ],
)
def test_it_tells_applicants_about_a_decision(
    decision,
    subject,
    teammate,
    owner,
    manager,
    organisation,
    call,
    staff,
    reviewer,
    django_capture_on_commit_callbacks,
):
    application = builders.ready_for_decision(teammate, organisation, call, staff, reviewer)
    mail.outbox.clear()
    before = Notification.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        quota_services.application_decide(
            application=application, staff=staff, decision=decision, reason="Because."
        )

    expected = sorted([teammate.email, owner.email, manager.email])
    assert _recipients(subject) == expected
    assert Notification.objects.count() - before == 3
    assert _emails(subject) == expected
    assert all("Because." in message.body for message in mail.outbox)


@pytest.mark.django_db
def test_it_tells_reviewers_about_a_withdrawal(
    owner, organisation, call, staff, reviewer, reviewer2, django_capture_on_commit_callbacks
):
    application = builders.under_review(
        builders.submitted(builders.make_application(owner, organisation, call), owner), staff, reviewer
    )
    services.review_assign(application=application, staff=staff, reviewers=[reviewer2])
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.application_withdraw(application=application, user=owner, reason="Funded elsewhere")
    expected = sorted([reviewer.email, reviewer2.email])
    assert _recipients("Application withdrawn") == expected
    assert _emails("Application withdrawn") == expected


@pytest.mark.django_db
def test_it_skips_inactive_people_and_duplicates(owner, organisation, call, staff, teammate):
    builders.add_member(builders.make_org(owner), teammate)  # teammate is in two organisations: irrelevant
    owner.is_active = False
    owner.save()
    application = builders.make_application(teammate, organisation, call)
    services.application_submit(application=application, user=teammate)
    assert _recipients("Application received") == [teammate.email]


@pytest.mark.django_db
def test_it_notifies_once_when_the_creator_is_also_the_owner(owner, organisation, call):
    application = builders.make_application(owner, organisation, call)
    services.application_submit(application=application, user=owner)
    assert _recipients("Application received") == [owner.email]
