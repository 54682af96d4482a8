"""Registering an organisation: the creator becomes its owner; bad or duplicate numbers are refused."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import InvalidInput
from portal.organisations.models import Membership
from portal.organisations.selectors import organisations_visible_to
from portal.organisations.services import organisation_create
from tests import builders


def _create(user, **overrides):
    content = dict(name="Seoul Vision Lab", org_type="startup", registration_number="123-45-67890")
    content.update(overrides)
    return organisation_create(creator=user, **content)


@pytest.mark.django_db
def test_it_creates_an_unverified_organisation_owned_by_its_creator(owner):
    organisation = _create(owner, name="  Seoul Vision Lab  ", registration_number=" 123-45-67890 ")
    assert (organisation.name, organisation.registration_number, organisation.verified) == (
        "Seoul Vision Lab",
        "123-45-67890",
        False,
    )
    membership = Membership.objects.get(organisation=organisation)
    assert (membership.user, membership.role) == (owner, "owner")
    assert AuditEvent.objects.get(target_id=organisation.public_id).action == "organisation_created"


@pytest.mark.django_db
@pytest.mark.parametrize("region", ["capital", "non_capital", ""])
def test_it_keeps_the_region_given_or_none(owner, region):
    assert _create(owner, region=region).region == region


@pytest.mark.django_db
def test_it_leaves_the_region_blank_when_not_given(owner):
    assert _create(owner).region == ""


BAD = [
    ("missing-name", {"name": ""}, {"name"}),
    ("blank-name", {"name": "   "}, {"name"}),
    ("name-201", {"name": "n" * 201}, {"name"}),
    ("unknown-type", {"org_type": "hedge_fund"}, {"org_type"}),
    ("number-too-short", {"registration_number": "123"}, {"registration_number"}),
    ("number-too-long", {"registration_number": "1" * 41}, {"registration_number"}),
    ("number-with-spaces", {"registration_number": "123 45 67890"}, {"registration_number"}),
    ("number-starts-with-dash", {"registration_number": "-12345"}, {"registration_number"}),
    ("number-with-symbols", {"registration_number": "123/45;DROP"}, {"registration_number"}),
    ("number-missing", {"registration_number": ""}, {"registration_number"}),
    ("number-none", {"registration_number": None}, {"registration_number"}),
    ("unknown-region", {"region": "jeju"}, {"region"}),
    ("region-label-not-value", {"region": "Capital area"}, {"region"}),
    (
        "several",
        {"name": "", "org_type": "x", "registration_number": "!"},
        {"name", "org_type", "registration_number"},
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "fields"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_it_refuses_bad_input_and_writes_nothing(owner, overrides, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _create(owner, **overrides)
    assert set(excinfo.value.fields) == fields
    assert builders.row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["123-45-67890", "123-45-67890 ", "ABC-1234"])
def test_it_refuses_a_duplicate_registration_number(owner, outsider, number):
    _create(owner, registration_number="abc-1234" if number == "ABC-1234" else "123-45-67890")
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as excinfo:
        _create(outsider, name="Copycat", registration_number=number)
    assert list(excinfo.value.fields) == ["registration_number"]
    assert builders.row_counts() == before


@pytest.mark.django_db
def test_it_shows_organisations_to_members_and_staff(
    organisation, other_organisation, owner, teammate, outsider, staff
):
    assert list(organisations_visible_to(owner)) == [organisation]
    assert list(organisations_visible_to(teammate)) == [organisation]
    assert list(organisations_visible_to(outsider)) == [other_organisation]
    assert set(organisations_visible_to(staff)) == {organisation, other_organisation}
