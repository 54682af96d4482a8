import pytest
from django.urls import reverse

from portal.organisations.models import Invitation, Membership, MembershipRole, Organisation
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def detail_url(organisation) -> str:
    return reverse("web:organisation_detail", kwargs={"public_id": organisation.public_id})


def add_url(organisation) -> str:
    return reverse("web:organisation_member_add", kwargs={"public_id": organisation.public_id})


def remove_url(organisation, user) -> str:
    return reverse(
        "web:organisation_member_remove",
        kwargs={"public_id": organisation.public_id, "user_id": user.public_id},
    )


def verify_url(organisation) -> str:
    return reverse("web:organisation_verify", kwargs={"public_id": organisation.public_id})


def test_it_lists_only_ones_own_organisations(client, teammate, outsider, organisation, other_organisation):
    response = login(client, teammate).get(reverse("web:organisation_list"))
    assert shows(response, "Owner's SME")
    assert not shows(response, "Outsider University")
    assert client.get(detail_url(other_organisation)).status_code == 404


def test_it_shows_staff_every_organisation(client, staff, organisation, other_organisation):
    response = login(client, staff).get(reverse("web:organisation_list"))
    assert shows(response, "Owner's SME") and shows(response, "Outsider University")


def test_it_shows_members_with_their_roles(client, teammate, organisation):
    response = login(client, teammate).get(detail_url(organisation))
    assert shows(response, "owner@example.test") and shows(response, "Owner / PI")
    assert shows(response, "teammate@example.test")
    assert response.context["member_form"] is None  # plain members cannot add anyone
    assert not any(row["removable"] for row in response.context["rows"])


NEW_ORGANISATION = {
    "name": "New Startup",
    "org_type": "startup",
    "region": "non_capital",
    "registration_number": "555-12-34567",
}


def test_it_registers_an_organisation_with_its_creator_as_owner(client, outsider):
    response = login(client, outsider).post(reverse("web:organisation_create"), NEW_ORGANISATION)
    organisation = Organisation.objects.get(name="New Startup")
    assert response["Location"] == detail_url(organisation)
    assert not organisation.verified
    assert organisation.region == "non_capital"
    assert Membership.objects.get(organisation=organisation).role == MembershipRole.OWNER
    assert shows(client.get(detail_url(organisation)), "Outside the capital area")


def test_it_asks_for_the_region_when_registering(client, outsider):
    response = login(client, outsider).get(reverse("web:organisation_create"))
    assert shows(response, "Capital area") and shows(response, "Outside the capital area")
    assert response.context["form"].fields["region"].required


def test_it_says_when_an_older_organisation_stated_no_region(client, owner, organisation):
    assert organisation.region == ""
    assert shows(login(client, owner).get(detail_url(organisation)), "Not stated")


BAD_ORGANISATIONS = {
    "missing name": ({"name": ""}, "name"),
    "oversized name": ({"name": "x" * 201}, "name"),
    "unknown type": ({"org_type": "cult"}, "org_type"),
    "malformed registration number": ({"registration_number": "!!"}, "registration_number"),
    "registration number taken": ({"registration_number": "TAKEN-1"}, "registration_number"),
    "missing region": ({"region": ""}, "region"),
    "unknown region": ({"region": "jeju"}, "region"),
}


@pytest.mark.parametrize("case", sorted(BAD_ORGANISATIONS))
def test_it_rejects_a_bad_organisation(client, outsider, staff, case):
    builders.make_org(staff, name="Existing")
    Organisation.objects.filter(name="Existing").update(registration_number="TAKEN-1")
    overrides, field = BAD_ORGANISATIONS[case]
    data = {**NEW_ORGANISATION, **overrides}
    response = login(client, outsider).post(reverse("web:organisation_create"), data)
    assert field in response.context["form"].errors
    assert list(Organisation.objects.values_list("name", flat=True)) == ["Existing"]


def test_it_lets_the_owner_invite_a_member(client, owner, organisation, outsider):
    response = login(client, owner).post(
        add_url(organisation), {"email": "Outsider@example.test", "role": "manager"}
    )
    assert response["Location"] == detail_url(organisation)
    # A member once they accept (tests/accounts/test_enumeration.py); until then an open invitation.
    assert not Membership.objects.filter(organisation=organisation, user=outsider).exists()
    invitation = Invitation.objects.get(organisation=organisation)
    assert (invitation.email, invitation.role) == ("outsider@example.test", MembershipRole.MANAGER)
    page = client.get(detail_url(organisation))
    assert shows(page, "An invitation is on its way to outsider@example.test.")
    assert [i.email for i in page.context["invitations"]] == ["outsider@example.test"]


def test_it_reports_member_errors_next_to_the_fields(client, owner, organisation, teammate):
    login(client, owner)
    response = client.post(add_url(organisation), {"email": teammate.email, "role": "member"})
    assert response.context["member_form"].errors["email"] == ["This person is already a member."]
    response = client.post(add_url(organisation), {"email": "not an email", "role": "member"})
    assert "email" in response.context["member_form"].errors
    assert organisation.memberships.count() == 2
    assert not Invitation.objects.exists()


def test_it_refuses_members_from_plain_members(client, teammate, organisation, outsider):
    response = login(client, teammate).post(
        add_url(organisation), {"email": outsider.email, "role": "member"}
    )
    assert response.status_code == 200
    assert (
        "Only the organisation's owner or a manager can add members."
        in response.context["member_form"].non_field_errors()
    )
    assert not Membership.objects.filter(organisation=organisation, user=outsider).exists()


def test_it_does_not_let_outsiders_touch_members(client, outsider, organisation, teammate):
    login(client, outsider)
    assert client.post(add_url(organisation), {"email": outsider.email, "role": "owner"}).status_code == 404
    assert client.post(remove_url(organisation, teammate)).status_code == 404
    assert organisation.memberships.count() == 2


def test_it_lets_the_owner_remove_a_member(client, owner, organisation, teammate):
    response = login(client, owner).post(remove_url(organisation, teammate))
    assert response["Location"] == detail_url(organisation)
    assert not Membership.objects.filter(organisation=organisation, user=teammate).exists()


def test_it_keeps_the_last_owner(client, owner, organisation, teammate):
    Membership.objects.filter(organisation=organisation, user=teammate).update(role=MembershipRole.MANAGER)
    login(client, teammate)
    rows = {
        row["membership"].user: row["removable"]
        for row in client.get(detail_url(organisation)).context["rows"]
    }
    assert rows == {owner: False, teammate: False}
    response = client.post(remove_url(organisation, owner), follow=True)
    assert shows(response, "Only the owner can remove owners or managers.")
    login(client, owner)
    response = client.post(remove_url(organisation, owner), follow=True)
    assert shows(response, "An organisation must keep at least one owner.")
    assert organisation.memberships.count() == 2


def test_it_lets_staff_verify_and_unverify(client, staff, outsider):
    organisation = builders.make_org(outsider, name="Fresh Lab", verified=False)
    login(client, staff)
    assert client.get(detail_url(organisation)).context["verify_form"] is not None
    client.post(verify_url(organisation), {"verified": "1"})
    organisation.refresh_from_db()
    assert organisation.verified and organisation.verified_by == staff
    client.post(verify_url(organisation), {"verified": "0", "reason": "Registration lapsed"})
    organisation.refresh_from_db()
    assert not organisation.verified


def test_it_returns_to_a_local_page_after_verifying_but_never_elsewhere(client, staff, outsider):
    organisation = builders.make_org(outsider, name="Fresh Lab", verified=False)
    login(client, staff)
    local = client.post(
        verify_url(organisation), {"verified": "1", "next": reverse("web:staff_organisation_list")}
    )
    assert local["Location"] == reverse("web:staff_organisation_list")
    away = client.post(verify_url(organisation), {"verified": "0", "next": "https://evil.example/"})
    assert away["Location"] == detail_url(organisation)


def test_it_lets_only_staff_verify(client, owner, organisation):
    organisation.verified = False
    organisation.save()
    login(client, owner)
    assert client.get(detail_url(organisation)).context["verify_form"] is None
    assert client.post(verify_url(organisation), {"verified": "1"}).status_code == 403
    organisation.refresh_from_db()
    assert not organisation.verified
