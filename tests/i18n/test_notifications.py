"""Each recipient's email is written in the language stored on their profile, else the site default."""

import pytest
from django.core import mail
from django.utils import translation

from portal.applications import services as application_services
from portal.notifications.models import Notification
from portal.organisations.services import membership_add
from tests import builders

pytestmark = pytest.mark.django_db


def test_it_writes_each_recipient_in_their_own_language(
    owner, organisation, django_capture_on_commit_callbacks
):
    korean = builders.make_user("jiwoo@example.test", language="ko")
    english = builders.make_user("sam@example.test")

    # The owner works in Korean; the English speaker must still get English.
    with translation.override("ko"), django_capture_on_commit_callbacks(execute=True):
        membership_add(organisation=organisation, actor=owner, email=korean.email)
        membership_add(organisation=organisation, actor=owner, email=english.email)

    to_korean = Notification.objects.get(recipient=korean)
    assert to_korean.subject == f"{organisation.name}에 추가되었습니다"
    assert "구성원" in to_korean.body  # the role, named in Korean too
    to_english = Notification.objects.get(recipient=english)
    assert to_english.subject == f"You were added to {organisation.name}"
    assert to_english.body.endswith("as Member.")
    sent = {message.to[0]: message for message in mail.outbox}
    assert sent[korean.email].subject == f"[gpugrant] {organisation.name}에 추가되었습니다"


def test_it_tells_applicants_about_a_decision_in_their_language(
    owner, teammate, organisation, call, staff, reviewer, django_capture_on_commit_callbacks
):
    teammate.language = "ko"
    teammate.save(update_fields=["language"])
    application = builders.ready_for_decision(teammate, organisation, call, staff, reviewer)

    with django_capture_on_commit_callbacks(execute=True):
        application_services.application_decide(
            application=application, staff=staff, decision="reject", reason="예산 부족."
        )

    title = application.project_title
    latest = {user: Notification.objects.filter(recipient=user).first() for user in (teammate, owner)}
    assert latest[teammate].subject == f"신청서 미승인: {title}"
    assert "사유: 예산 부족." in latest[teammate].body
    assert latest[owner].subject == f"Your application was not approved: {title}"
