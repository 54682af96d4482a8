"""Each recipient's email is written in the language stored on their profile, else the site default."""

import pytest
from django.core import mail
from django.utils import translation

from portal.notifications.models import Notification
from portal.organisations.services import membership_invite
from quotas import services as quota_services
from tests import builders

pytestmark = pytest.mark.django_db


def test_it_writes_each_recipient_in_their_own_language(
    owner, organisation, django_capture_on_commit_callbacks
):
    korean = builders.make_user("jiwoo@example.test", language="ko")
    english = builders.make_user("sam@example.test")

    # The owner works in Korean; the English speaker must still get English.
    with translation.override("ko"), django_capture_on_commit_callbacks(execute=True):
        membership_invite(organisation=organisation, actor=owner, email=korean.email)
        membership_invite(organisation=organisation, actor=owner, email=english.email)

    to_korean = Notification.objects.get(recipient=korean)
    assert to_korean.subject == f"Owner Choi 님이 회원님을 gpugrant의 {organisation.name}에 초대했습니다"
    assert "구성원" in to_korean.body  # the role, named in Korean too
    to_english = Notification.objects.get(recipient=english)
    assert to_english.subject == f"Owner Choi invited you to join {organisation.name} on gpugrant"
    assert f"to join {organisation.name} as Member on gpugrant" in to_english.body
    sent = {message.to[0]: message for message in mail.outbox}
    assert (
        sent[korean.email].subject
        == f"[gpugrant] Owner Choi 님이 회원님을 gpugrant의 {organisation.name}에 초대했습니다"
    )


def test_an_address_without_an_account_is_written_to_in_the_inviter_s_language(
    owner, organisation, django_capture_on_commit_callbacks
):
    owner.language = "ko"
    owner.save(update_fields=["language"])
    with django_capture_on_commit_callbacks(execute=True):
        membership_invite(organisation=organisation, actor=owner, email="nobody@example.test")
    assert Notification.objects.get(to_email="nobody@example.test").subject.endswith("초대했습니다")
    assert mail.outbox[-1].to == ["nobody@example.test"]


def test_it_tells_applicants_about_a_decision_in_their_language(
    owner, teammate, organisation, call, staff, reviewer, django_capture_on_commit_callbacks
):
    teammate.language = "ko"
    teammate.save(update_fields=["language"])
    application = builders.ready_for_decision(teammate, organisation, call, staff, reviewer)

    with django_capture_on_commit_callbacks(execute=True):
        quota_services.application_decide(
            application=application, staff=staff, decision="reject", reason="예산 부족."
        )

    title = application.project_title
    latest = {user: Notification.objects.filter(recipient=user).first() for user in (teammate, owner)}
    assert latest[teammate].subject == f"신청서 미승인: {title}"
    assert "사유: 예산 부족." in latest[teammate].body
    assert latest[owner].subject == f"Your application was not approved: {title}"
