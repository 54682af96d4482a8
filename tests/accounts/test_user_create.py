"""Signing up: valid email, a strong password, one account per email."""

import pytest

from portal.accounts.models import User
from portal.accounts.services import user_create
from portal.audit.models import AuditEvent
from portal.errors import InvalidInput
from tests import builders

STRONG = "plum-orbit-saddle-42"


@pytest.mark.django_db
def test_it_creates_a_user_with_a_hashed_password():
    user = user_create(email="  New.Person@Example.TEST ", password=STRONG, full_name="New Person")
    assert user.email == "new.person@example.test"
    assert user.check_password(STRONG)
    assert user.password != STRONG
    assert (user.is_staff, user.is_reviewer, user.is_active) == (False, False, True)
    assert AuditEvent.objects.get(target_id=user.public_id).action == "user_signed_up"


BAD = [
    ("short-password", {"password": "short1!"}, {"password"}),
    ("common-password", {"password": "password123"}, {"password"}),
    ("numeric-password", {"password": "84736251907"}, {"password"}),
    (
        "password-like-email",
        {"email": "kimchiloverboy@example.test", "password": "kimchiloverboy"},
        {"password"},
    ),
    ("bad-email", {"email": "not-an-email"}, {"email"}),
    ("empty-email", {"email": ""}, {"email"}),
    ("name-151", {"full_name": "n" * 151}, {"full_name"}),
    (
        "everything",
        {"email": "x", "password": "1", "full_name": "n" * 151},
        {"email", "password", "full_name"},
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "fields"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_it_refuses_bad_input_and_writes_nothing(overrides, fields):
    content = {"email": "someone@example.test", "password": STRONG, "full_name": "", **overrides}
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        user_create(**content)
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["owner@example.test", "OWNER@example.test", " owner@EXAMPLE.test "])
def test_it_refuses_a_duplicate_email(owner, email):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        user_create(email=email, password=STRONG)
    assert list(excinfo.value.fields) == ["email"]
    assert builders.row_counts() == before
    assert User.objects.filter(email__iexact="owner@example.test").count() == 1


@pytest.mark.django_db
def test_it_can_skip_the_password_rules_for_trusted_callers():
    user = user_create(email="seed@example.test", password="x", check_password=False)
    assert user.check_password("x")
