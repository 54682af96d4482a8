import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse

from portal.accounts.models import User
from tests import builders
from tests.web.conftest import login

pytestmark = pytest.mark.django_db

SIGNUP = {"email": "new.person@example.test", "full_name": "New Person"}
PASSWORDS = {"password1": "a-long-unusual-passphrase", "password2": "a-long-unusual-passphrase"}


def test_it_logs_in_by_email(client, owner):
    response = client.post(
        reverse("web:login"), {"username": "Owner@Example.test", "password": builders.PASSWORD}
    )
    assert response["Location"] == reverse("web:home")
    assert client.session[SESSION_KEY] == str(owner.pk)


def test_it_labels_the_login_field_email(client):
    form = client.get(reverse("web:login")).context["form"]
    assert form.fields["username"].label == "Email"


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post(reverse("web:login"), {"username": owner.email, "password": "wrong"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert SESSION_KEY not in client.session


def test_it_returns_to_the_page_asked_for_after_login(client, owner):
    next_url = reverse("web:allocation_list")
    response = client.post(
        f"{reverse('web:login')}?next={next_url}",
        {"username": owner.email, "password": builders.PASSWORD, "next": next_url},
    )
    assert response["Location"] == next_url


def test_it_logs_out_only_by_post(client, owner):
    login(client, owner)
    assert client.get(reverse("web:logout")).status_code == 405
    assert SESSION_KEY in client.session
    response = client.post(reverse("web:logout"))
    assert response["Location"] == reverse("web:login")
    assert SESSION_KEY not in client.session


def finish_link(client, django_capture_on_commit_callbacks) -> str:
    """Sign up with SIGNUP; the path of the link emailed to finish it."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("web:signup"), SIGNUP)
    assert response["Location"] == reverse("web:check_email")
    url = re.search(r"https?://\S+", mail.outbox[-1].body).group(0)
    return urlsplit(url).path


def test_it_signs_up_through_the_emailed_link_and_logs_in(client, django_capture_on_commit_callbacks):
    link = finish_link(client, django_capture_on_commit_callbacks)
    assert not User.objects.filter(email=SIGNUP["email"]).exists()
    response = client.post(link, PASSWORDS)
    assert response["Location"] == reverse("web:home")
    user = User.objects.get(email="new.person@example.test")
    assert user.full_name == "New Person"
    assert user.check_password("a-long-unusual-passphrase")
    assert client.session[SESSION_KEY] == str(user.pk)
    assert client.get(reverse("web:home")).status_code == 200


BAD_SIGNUPS = {
    "bad email": ({"email": "not-an-email"}, "email"),
    "missing name": ({"full_name": ""}, "full_name"),
    "oversized name": ({"full_name": "x" * 151}, "full_name"),
}


@pytest.mark.parametrize("case", sorted(BAD_SIGNUPS))
def test_it_rejects_a_bad_signup(client, owner, case):
    overrides, field = BAD_SIGNUPS[case]
    response = client.post(reverse("web:signup"), {**SIGNUP, **overrides})
    assert field in response.context["form"].errors, response.context["form"].errors
    assert list(User.objects.values_list("email", flat=True)) == [owner.email]
    assert not mail.outbox
    assert SESSION_KEY not in client.session


BAD_PASSWORDS = {
    "passwords differ": ({"password2": "something-else-entirely"}, "password2"),
    "weak password": ({"password1": "12345678", "password2": "12345678"}, "password1"),
    "password like the email": (
        {"password1": "new.person@example.test", "password2": "new.person@example.test"},
        "password1",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PASSWORDS))
def test_it_rejects_a_bad_password_when_finishing(client, owner, case, django_capture_on_commit_callbacks):
    link = finish_link(client, django_capture_on_commit_callbacks)
    overrides, field = BAD_PASSWORDS[case]
    response = client.post(link, {**PASSWORDS, **overrides})
    assert field in response.context["form"].errors, response.context["form"].errors
    assert list(User.objects.values_list("email", flat=True)) == [owner.email]
    assert SESSION_KEY not in client.session


def test_it_checks_csrf_on_every_form(owner):
    client = Client(enforce_csrf_checks=True)
    assert (
        client.post(
            reverse("web:login"), {"username": owner.email, "password": builders.PASSWORD}
        ).status_code
        == 403
    )
    assert client.post(reverse("web:signup"), SIGNUP).status_code == 403
    client.force_login(owner)
    assert client.post(reverse("web:organisation_create"), {"name": "X"}).status_code == 403
    assert client.post(reverse("web:logout")).status_code == 403
    assert not User.objects.filter(email=SIGNUP["email"]).exists()
