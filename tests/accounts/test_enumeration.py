"""Sign-up and adding a member answer the same whether or not an account uses the email.

What differs goes by email, to the address itself: an existing account's owner hears that someone tried
to sign up with it (log in, or reset the password); a new address gets the link that finishes the
sign-up; an invited person, with or without an account, gets the invitation. Both branches do the
same database work, so the answer takes as long either way.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from portal.accounts.models import User
from portal.accounts.services import api_key_create
from portal.notifications.models import Notification
from portal.organisations.models import Invitation, Membership
from tests import builders

pytestmark = pytest.mark.django_db

NEW = "new.person@example.test"
PASSPHRASE = "a-long-unusual-passphrase"


def sign_up(client, email, full_name="New Person"):
    return client.post(reverse("web:signup"), {"email": email, "full_name": full_name}, follow=True)


def link_in(body: str) -> str:
    """The path of the one link in an email (the portal's base URL differs between settings)."""
    match = re.search(r"https?://\S+", body)
    assert match, body
    parts = urlsplit(match.group(0))
    return parts.path + (f"?{parts.query}" if parts.query else "")


def last_email_to(address: str):
    sent = [message for message in mail.outbox if message.to == [address]]
    assert sent, f"no email to {address}"
    return sent[-1]


# --- sign-up -----------------------------------------------------------------------------------------


def test_sign_up_answers_the_same_for_a_new_and_a_taken_address(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        taken = sign_up(Client(), "Owner@Example.test")
        new = sign_up(Client(), NEW)
    assert taken.status_code == new.status_code == 200
    assert taken.redirect_chain == new.redirect_chain == [(reverse("web:check_email"), 302)]
    strip = lambda response: response.content.decode().replace("csrfmiddlewaretoken", "")  # noqa: E731
    assert re.sub(r'value="[^"]+"', "", strip(taken)) == re.sub(r'value="[^"]+"', "", strip(new))
    assert "Check your email" in new.content.decode()
    assert SESSION_KEY not in taken.client.session and SESSION_KEY not in new.client.session
    assert not User.objects.filter(email=NEW).exists()  # nothing until the address is proven

    to_owner = last_email_to(owner.email)
    assert "tried to sign up" in to_owner.subject
    assert "/accounts/login/" in to_owner.body and "/accounts/password-reset/" in to_owner.body
    to_new = last_email_to(NEW)
    assert "Finish signing up" in to_new.subject


def test_sign_up_does_the_same_database_work_either_way(owner):
    def statements(email) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            sign_up(Client(), email)
        # Compare the kind of each statement; the values differ.
        return [re.sub(r"\s.*", "", query["sql"]) + " " + _table(query["sql"]) for query in queries]

    assert statements(owner.email) == statements(NEW)


def _table(sql: str) -> str:
    match = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    return match.group(1) if match else ""


def test_the_link_finishes_the_sign_up(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client, NEW, full_name="New Person")
    link = link_in(last_email_to(NEW).body)
    page = client.get(link)
    assert page.status_code == 200 and NEW in page.content.decode()
    response = client.post(link, {"password1": PASSPHRASE, "password2": PASSPHRASE})
    assert response["Location"] == reverse("web:home")
    user = User.objects.get(email=NEW)
    assert user.full_name == "New Person" and user.check_password(PASSPHRASE)
    assert client.session[SESSION_KEY] == str(user.pk)
    # Used once: the same link cannot make a second account or change this one's password.
    again = Client().post(
        link, {"password1": "another-long-passphrase", "password2": "another-long-passphrase"}
    )
    assert again.status_code == 200 and "already has an account" in again.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSPHRASE)


def test_the_link_checks_the_password_and_refuses_tampering(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client, NEW)
    link = link_in(last_email_to(NEW).body)
    weak = client.post(link, {"password1": "12345678", "password2": "12345678"})
    assert weak.status_code == 200 and "password1" in weak.context["form"].errors
    tampered = client.get(link[:-3] + "abc/")
    assert tampered.status_code == 200 and "not valid" in tampered.content.decode()
    assert tampered.context.get("form") is None
    assert not User.objects.filter(email=NEW).exists()


def test_the_link_expires(client, settings, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client, NEW)
    link = link_in(last_email_to(NEW).body)
    settings.GPUGRANT_SIGNUP_LINK_MAX_AGE_S = -1
    response = client.post(link, {"password1": PASSPHRASE, "password2": PASSPHRASE})
    assert "not valid" in response.content.decode()
    assert not User.objects.filter(email=NEW).exists()


def test_the_taken_address_owner_can_reset_the_password(owner, django_capture_on_commit_callbacks):
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(reverse("web:password_reset"), {"email": owner.email}, follow=True)
        unknown = Client().post(reverse("web:password_reset"), {"email": NEW}, follow=True)
    assert known.redirect_chain == unknown.redirect_chain == [(reverse("web:check_email"), 302)]
    link = link_in(last_email_to(owner.email).body)
    assert not [message for message in mail.outbox if message.to == [NEW]]
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    done = client.post(
        form_page.redirect_chain[-1][0] if form_page.redirect_chain else link,
        {"new_password1": PASSPHRASE, "new_password2": PASSPHRASE},
    )
    assert done.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(PASSPHRASE)


def test_sign_up_emails_are_written_in_the_page_s_language(owner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Client().post(
            reverse("web:signup"), {"email": NEW, "full_name": "새 사람"}, HTTP_ACCEPT_LANGUAGE="ko"
        )
    assert Notification.objects.get(to_email=NEW).subject.isascii() is False


# --- adding a member ---------------------------------------------------------------------------------


def add(client, organisation, email, role="member"):
    return client.post(
        reverse("web:organisation_member_add", kwargs={"public_id": organisation.public_id}),
        {"email": email, "role": role},
        follow=True,
    )


def _visible(response) -> str:
    text = response.content.decode()
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", text)


def test_adding_a_member_answers_the_same_for_an_account_and_an_unknown_address(
    owner, organisation, outsider, django_capture_on_commit_callbacks
):
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        existing = add(client, organisation, outsider.email)
        Invitation.objects.all().delete()  # each answer from the same starting point
        unknown = add(client, organisation, "nobody@example.test")
    assert existing.status_code == unknown.status_code == 200
    assert existing.redirect_chain == unknown.redirect_chain
    assert f"An invitation is on its way to {outsider.email}." in existing.content.decode()
    assert "An invitation is on its way to nobody@example.test." in unknown.content.decode()
    assert _visible(existing).replace(outsider.email, "X").replace("nobody@example.test", "X") == _visible(
        unknown
    ).replace(outsider.email, "X").replace("nobody@example.test", "X")
    assert "No gpugrant account" not in unknown.content.decode()
    # Nobody joins until they accept.
    assert not Membership.objects.filter(organisation=organisation, user=outsider).exists()
    assert "invited you to join" in last_email_to(outsider.email).body
    assert "invited you to join" in last_email_to("nobody@example.test").body


def test_the_api_answers_the_same_too(owner, organisation, outsider):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(user=owner)[1]}")
    path = f"/api/v1/organisations/{organisation.public_id}/members"
    existing = api.post(path, {"email": outsider.email, "role": "manager"}, format="json")
    unknown = api.post(path, {"email": "nobody@example.test", "role": "manager"}, format="json")
    assert existing.status_code == unknown.status_code == 202
    assert {**existing.json(), "email": "X"} == {**unknown.json(), "email": "X"}
    assert set(existing.json()) == {"email", "role", "status"} and existing.json()["status"] == "invited"
    assert not Membership.objects.filter(organisation=organisation, user=outsider).exists()


def test_an_invited_account_accepts_and_joins(
    owner, organisation, outsider, django_capture_on_commit_callbacks
):
    inviter = Client()
    inviter.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        add(inviter, organisation, outsider.email, role="manager")
    link = link_in(last_email_to(outsider.email).body)
    # Someone else signed in cannot take it.
    intruder = Client()
    intruder.force_login(builders.make_user("intruder@example.test"))
    assert intruder.post(link).status_code == 403
    invitee = Client()
    assert invitee.get(link).status_code == 200  # anonymous: asked to log in or sign up
    invitee.force_login(outsider)
    response = invitee.post(link)
    assert response["Location"] == reverse(
        "web:organisation_detail", kwargs={"public_id": organisation.public_id}
    )
    assert Membership.objects.get(organisation=organisation, user=outsider).role == "manager"
    assert invitee.post(link).status_code == 200  # already used: says so, changes nothing
    assert Membership.objects.filter(organisation=organisation, user=outsider).count() == 1


def test_an_unknown_address_signs_up_through_the_invitation_and_joins(
    owner, organisation, django_capture_on_commit_callbacks
):
    inviter = Client()
    inviter.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        add(inviter, organisation, NEW)
    invitation = link_in(last_email_to(NEW).body)
    invitee = Client()
    page = invitee.get(invitation)
    assert reverse("web:signup") in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        invitee.post(f"{reverse('web:signup')}?next={invitation}", {"email": NEW, "full_name": "New Person"})
    finish = link_in(last_email_to(NEW).body)
    response = invitee.post(finish, {"password1": PASSPHRASE, "password2": PASSPHRASE})
    assert response["Location"] == invitation  # back to the invitation, now signed in
    invitee.post(invitation)
    assert Membership.objects.filter(organisation=organisation, user__email=NEW).exists()


def test_a_long_korean_name_still_makes_a_working_link(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sign_up(client, NEW, full_name="김" * 150)
    link = link_in(last_email_to(NEW).body)
    assert client.get(link).status_code == 200
    client.post(link, {"password1": PASSPHRASE, "password2": PASSPHRASE})
    assert User.objects.get(email=NEW).full_name == "김" * 150


def test_adding_a_member_does_the_same_database_work_either_way(owner, organisation, outsider):
    client = Client()
    client.force_login(owner)

    def statements(email) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            add(client, organisation, email)
        Invitation.objects.all().delete()
        return [re.sub(r"\s.*", "", query["sql"]) + " " + _table(query["sql"]) for query in queries]

    assert statements(outsider.email) == statements("nobody@example.test")


def test_sign_up_emails_to_one_address_are_rationed_the_same_way(owner, django_capture_on_commit_callbacks):
    """Five an hour per address, whichever kind; after that the page answers the same and sends nothing."""
    for address in (owner.email, NEW):
        with django_capture_on_commit_callbacks(execute=True):
            answers = [sign_up(Client(), address).redirect_chain for _ in range(7)]
        assert answers == [[(reverse("web:check_email"), 302)]] * 7
        assert len([message for message in mail.outbox if message.to == [address]]) == 5
