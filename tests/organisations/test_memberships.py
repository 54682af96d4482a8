"""Adding and removing members: owners and managers manage, only owners handle owners and managers."""

import pytest

from portal.errors import Conflict, InvalidInput, NotAllowed
from portal.notifications.models import Notification
from portal.organisations.models import Membership
from portal.organisations.services import membership_add, membership_remove
from tests import builders


@pytest.mark.django_db
def test_it_adds_a_member_by_email(organisation, owner, outsider):
    membership = membership_add(organisation=organisation, actor=owner, email="  OUTSIDER@example.test ")
    assert (membership.user, membership.role) == (outsider, "member")
    assert Notification.objects.filter(recipient=outsider, subject__contains=organisation.name).count() == 1


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
def test_it_checks_who_may_add_whom(organisation, owner, outsider, actor_role, new_role, allowed):
    actor = owner if actor_role == "owner" else builders.make_user()
    if actor_role != "owner":
        builders.add_member(organisation, actor, role=actor_role)
    before = builders.row_counts()
    if allowed:
        assert (
            membership_add(organisation=organisation, actor=actor, email=outsider.email, role=new_role).role
            == new_role
        )
    else:
        with pytest.raises(NotAllowed):
            membership_add(organisation=organisation, actor=actor, email=outsider.email, role=new_role)
        assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "role", "error", "field"),
    [
        ("nobody@example.test", "member", InvalidInput, "email"),
        ("outsider@example.test", "admin", InvalidInput, "role"),
        ("teammate@example.test", "member", Conflict, "email"),
    ],
)
def test_it_refuses_bad_additions(organisation, owner, outsider, email, role, error, field):
    before = builders.row_counts()
    with pytest.raises(error) as excinfo:
        membership_add(organisation=organisation, actor=owner, email=email, role=role)
    assert list(excinfo.value.fields) == [field]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_refuses_an_outsider(organisation, outsider, reviewer):
    with pytest.raises(NotAllowed):
        membership_add(organisation=organisation, actor=outsider, email=reviewer.email)


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
