"""API keys: shown once, stored only as a SHA-256 digest, and refused once revoked or for inactive users."""

import hashlib
import secrets

import pytest

from portal.accounts import services
from portal.accounts.models import ApiKey
from portal.accounts.services import api_key_authenticate, api_key_create, api_key_revoke
from portal.audit.models import AuditEvent
from portal.errors import InvalidInput, NotAllowed
from tests import builders


@pytest.mark.django_db
def test_it_stores_only_a_digest_of_the_key(owner):
    key, plaintext = api_key_create(user=owner, name="laptop")

    prefix_word, prefix, secret = plaintext.split("_", 2)
    assert (prefix_word, prefix) == ("gg", key.prefix)
    assert len(secret) >= 40
    row = ApiKey.objects.filter(pk=key.pk).values().get()
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = " ".join(str(value) for value in row.values())
    assert plaintext not in stored
    assert secret not in stored
    event = AuditEvent.objects.get(target_id=key.public_id)
    assert event.action == "api_key_created"
    assert secret not in str(event.data)


@pytest.mark.django_db
def test_it_authenticates_a_fresh_key_and_records_its_use(owner):
    key, plaintext = api_key_create(user=owner)
    assert key.last_used_at is None
    found = api_key_authenticate(plaintext)
    assert found == key
    assert found.user == owner
    key.refresh_from_db()
    assert key.last_used_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("secret", ["abc_def_ghi-jkl_mno_pqr_stu_vwx-yz012345678", "_leading", "trailing_"])
def test_it_authenticates_keys_whose_secret_contains_underscores(owner, monkeypatch, secret):
    # token_urlsafe() uses '_' in about half of all keys; they must work like any other.
    monkeypatch.setattr(services.secrets, "token_urlsafe", lambda n: secret)
    key, plaintext = api_key_create(user=owner)
    assert api_key_authenticate(plaintext) == key


@pytest.mark.django_db
def test_it_authenticates_every_key_it_issues(owner):
    issued = [api_key_create(user=owner, name=f"key {i}") for i in range(30)]
    assert [api_key_authenticate(plaintext) for _, plaintext in issued] == [key for key, _ in issued]


@pytest.mark.django_db
def test_it_refuses_a_revoked_key(owner):
    key, plaintext = api_key_create(user=owner)
    api_key_revoke(api_key=key, actor=owner)
    assert key.revoked_at is not None
    assert api_key_authenticate(plaintext) is None
    api_key_revoke(api_key=key, actor=owner)  # revoking again is harmless and not audited twice
    assert AuditEvent.objects.filter(target_id=key.public_id, action="api_key_revoked").count() == 1


@pytest.mark.django_db
def test_it_refuses_a_wrong_secret_with_the_right_prefix(owner):
    key, plaintext = api_key_create(user=owner)
    wrong = f"gg_{key.prefix}_{secrets.token_urlsafe(32)}"
    assert api_key_authenticate(wrong) is None
    assert api_key_authenticate(plaintext[:-1]) is None
    assert api_key_authenticate(plaintext + "x") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "garbage", ["", "gg", "gg_", "gg__", "xx_abc_def", "Bearer something", "gg_nope_secret"]
)
def test_it_refuses_garbage(owner, garbage):
    api_key_create(user=owner)
    assert api_key_authenticate(garbage) is None


@pytest.mark.django_db
def test_it_refuses_a_key_of_an_inactive_user(owner):
    _, plaintext = api_key_create(user=owner)
    owner.is_active = False
    owner.save()
    assert api_key_authenticate(plaintext) is None
    with pytest.raises(NotAllowed):
        api_key_create(user=owner)


@pytest.mark.django_db
def test_it_refuses_a_long_name(owner):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        api_key_create(user=owner, name="n" * 101)
    assert list(excinfo.value.fields) == ["name"]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_lets_only_the_holder_or_staff_revoke(owner, outsider, staff):
    key, plaintext = api_key_create(user=owner)
    with pytest.raises(NotAllowed):
        api_key_revoke(api_key=key, actor=outsider)
    assert api_key_authenticate(plaintext) == key
    api_key_revoke(api_key=key, actor=staff)
    assert api_key_authenticate(plaintext) is None
