"""Inviting and removing members: owners and managers manage, only owners handle owners and managers."""

import pytest
from django.utils import timezone

from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from portal.organisations.models import Invitation, Membership
from portal.organisations.services import invitation_accept, membership_invite, membership_remove
from tests import builders


@pytest.mark.django_db
def test_it_invites_by_email_and_the_invitee_joins_by_accepting(organisation, owner, outsider):
    invitation = membership_invite(organisation=organisation, actor=owner, email="  OUTSIDER@example.test ")
    assert (invitation.email, invitation.role) == ("outsider@example.test", "member")
    assert Notification.objects.filter(recipient=outsider, subject__contains=organisation.name).count() == 1
    assert not Membership.objects.filter(user=outsider).exists()
    membership = invitation_accept(invitation=invitation, user=outsider)
    assert (membership.user, membership.role) == (outsider, "member")
    with pytest.raises(Conflict):
        invitation_accept(invitation=invitation, user=outsider)


@pytest.mark.django_db
def test_it_invites_an_address_without_an_account_the_same_way(organisation, owner):
    invitation = membership_invite(organisation=organisation, actor=owner, email="nobody@example.test")
    assert Notification.objects.get(to_email="nobody@example.test").subject.startswith("Owner Choi invited")
    # Inviting again replaces the open invitation: one link works, the newest.
    again = membership_invite(
        organisation=organisation, actor=owner, email="nobody@example.test", role="manager"
    )
    assert again.pk == invitation.pk and Invitation.objects.get().role == "manager"


@pytest.mark.django_db
def test_only_the_invited_address_may_accept_and_only_in_time(organisation, owner, outsider, reviewer):
    invitation = membership_invite(organisation=organisation, actor=owner, email=outsider.email)
    with pytest.raises(NotAllowed):
        invitation_accept(invitation=invitation, user=reviewer)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now())
    with pytest.raises(Conflict):
        invitation_accept(invitation=invitation, user=outsider)
    assert not Membership.objects.filter(user__in=[outsider, reviewer]).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("actor_role", "new_role", "allowed"),
    [
        ("owner", "member", True),
        ("owner", "manager", True),
        ("owner", "owner", True),
        ("manager", "member", True),
        ("manager", "manager", False),
        ("manager", "owner", False),
        ("member", "member", False),
    ],
)
def test_it_checks_who_may_invite_whom(organisation, owner, outsider, actor_role, new_role, allowed):
    actor = owner if actor_role == "owner" else builders.make_user()
    if actor_role != "owner":
        builders.add_member(organisation, actor, role=actor_role)
    before = builders.row_counts()
    if allowed:
        invitation = membership_invite(
            organisation=organisation, actor=actor, email=outsider.email, role=new_role
        )
        assert invitation_accept(invitation=invitation, user=outsider).role == new_role
    else:
        with pytest.raises(NotAllowed):
            membership_invite(organisation=organisation, actor=actor, email=outsider.email, role=new_role)
        assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "role", "error", "field"),
    [
        ("not an email", "member", InvalidInput, "email"),
        ("outsider@example.test", "admin", InvalidInput, "role"),
        ("teammate@example.test", "member", Conflict, "email"),
    ],
)
def test_it_refuses_bad_invitations(organisation, owner, outsider, email, role, error, field):
    before = builders.row_counts()
    with pytest.raises(error) as excinfo:
        membership_invite(organisation=organisation, actor=owner, email=email, role=role)
    assert list(excinfo.value.fields) == [field]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_an_outsider(organisation, outsider, reviewer):
    with pytest.raises(NotAllowed):
        membership_invite(organisation=organisation, actor=outsider, email=reviewer.email)


@pytest.mark.django_db
def test_it_removes_members_but_keeps_the_last_owner(organisation, owner, teammate):
    membership_remove(membership=Membership.objects.get(user=teammate), actor=owner)
    assert not Membership.objects.filter(user=teammate).exists()

    with pytest.raises(Conflict):
        membership_remove(membership=Membership.objects.get(user=owner), actor=owner)
    assert Membership.objects.filter(user=owner, role="owner").exists()


@pytest.mark.django_db
def test_it_lets_only_owners_remove_managers(organisation, owner, teammate):
    manager = builders.make_user()
    builders.add_member(organisation, manager, role="manager")
    other_manager = builders.make_user()
    other = builders.add_member(organisation, other_manager, role="manager")
    with pytest.raises(NotAllowed):
        membership_remove(membership=other, actor=manager)
    with pytest.raises(NotAllowed):
        membership_remove(membership=Membership.objects.get(user=manager), actor=teammate)
    membership_remove(membership=other, actor=owner)
    assert not Membership.objects.filter(user=other_manager).exists()
