"""Verifying an organisation (staff only): idempotent, audited, announced to owners and managers."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import NotAllowed
from portal.notifications.models import Notification
from portal.organisations.services import organisation_verify
from tests import builders


@pytest.fixture
def unverified(owner):
    return builders.make_org(owner, verified=False)


@pytest.mark.django_db
def test_it_verifies_and_unverifies(unverified, staff, owner):
    organisation_verify(organisation=unverified, staff=staff)
    unverified.refresh_from_db()
    assert (unverified.verified, unverified.verified_by) == (True, staff)
    assert unverified.verified_at is not None

    organisation_verify(organisation=unverified, staff=staff, verified=False, reason="Registry mismatch")
    unverified.refresh_from_db()
    assert (unverified.verified, unverified.verified_by, unverified.verified_at) == (False, None, None)

    events = AuditEvent.objects.filter(target_id=unverified.public_id).exclude(action="organisation_created")
    assert [(e.action, e.actor, e.from_state, e.to_state, e.reason) for e in events] == [
        ("organisation_verified", staff, "unverified", "verified", ""),
        ("organisation_unverified", staff, "verified", "unverified", "Registry mismatch"),
    ]
    assert Notification.objects.filter(recipient=owner).count() == 2


@pytest.mark.django_db
def test_it_is_idempotent(unverified, staff):
    organisation_verify(organisation=unverified, staff=staff)
    before = builders.row_counts()
    organisation_verify(organisation=unverified, staff=staff)
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "reviewer", "outsider"])
def test_it_lets_only_staff_verify(unverified, request, who):
    actor = request.getfixturevalue(who)
    with pytest.raises(NotAllowed):
        organisation_verify(organisation=unverified, staff=actor)
    unverified.refresh_from_db()
    assert unverified.verified is False
