"""Registering an organisation through the API: its region is optional there and checked when given."""

import pytest

from portal.organisations.models import Organisation

pytestmark = pytest.mark.django_db

NEW = {"name": "Busan Robotics", "org_type": "startup", "registration_number": "BUS-2026-01"}


@pytest.mark.parametrize(("given", "stored"), [({"region": "non_capital"}, "non_capital"), ({}, "")])
def test_it_registers_the_region_given_or_none(client_for, outsider, given, stored):
    response = client_for(outsider).post("/api/v1/organisations", {**NEW, **given}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["region"] == stored
    assert Organisation.objects.get(name="Busan Robotics").region == stored


@pytest.mark.parametrize("region", ["jeju", "Capital area", 1, None])
def test_it_refuses_a_region_not_among_the_choices_by_field(client_for, outsider, region):
    response = client_for(outsider).post("/api/v1/organisations", {**NEW, "region": region}, format="json")
    assert response.status_code == 400
    assert list(response.json()["extra"]["fields"]) == ["region"]
    assert not Organisation.objects.filter(name="Busan Robotics").exists()


def test_it_shows_the_region_to_members(client_for, owner, organisation):
    Organisation.objects.filter(pk=organisation.pk).update(region="capital")
    response = client_for(owner).get(f"/api/v1/organisations/{organisation.public_id}")
    assert response.json()["region"] == "capital"
