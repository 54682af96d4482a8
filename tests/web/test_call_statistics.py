"""A call's statistics pages: staff's full figures, the public's anonymised ones (no sign-in), in both
languages."""

import pytest
from django.urls import reverse

from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9"}


@pytest.fixture
def four(owner, organisation, other_organisation, outsider, call, staff, reviewer):
    """Three applications of the owner's SME (one selected) and one of the outsider's university."""
    builders.approved(owner, organisation, call, staff, reviewer, project_title="Secret SME project")
    for _ in range(2):
        builders.submitted(builders.make_application(owner, organisation, call), owner)
    builders.submitted(
        builders.make_application(
            outsider, other_organisation, call, project_title="Secret university project"
        ),
        outsider,
    )
    return call


def public_url(call):
    return reverse("web:call_statistics", kwargs={"public_id": call.public_id})


def staff_url(call):
    return reverse("web:staff_call_statistics", kwargs={"public_id": call.public_id})


def test_it_shows_anyone_the_anonymised_figures(client, four):
    response = client.get(public_url(four))
    assert response.status_code == 200
    assert shows(response, "Fewer than 3 applications: withheld")  # the university's one
    assert shows(response, "Withheld so that a smaller group cannot be worked out")  # the SME's three
    assert shows(response, "25.0 %")  # the call: 1 of 4 selected
    for secret in (
        "Owner&#x27;s SME",
        "Owner's SME",
        "Outsider University",
        "Secret SME project",
        "Secret university",
    ):
        assert secret not in response.content.decode()


def test_it_shows_staff_every_group(client, staff, four):
    response = login(client, staff).get(staff_url(four))
    assert response.status_code == 200
    assert not shows(response, "Fewer than 3 applications: withheld")
    assert shows(response, "Academia (universities)") and shows(response, "33.3 %")  # industry: 1 of 3
    assert shows(response, reverse("web:call_statistics", kwargs={"public_id": four.public_id}))


def test_it_keeps_the_full_figures_from_everyone_but_staff(client, owner, four):
    assert client.get(staff_url(four)).status_code == 302
    assert login(client, owner).get(staff_url(four)).status_code == 403


def test_it_speaks_korean_when_asked(client, staff, four):
    assert "신청 3건 미만: 비공개" in client.get(public_url(four), **KOREAN).content.decode()
    page = login(client, staff).get(staff_url(four), **KOREAN).content.decode()
    assert "학계(대학)" in page and "선정률" in page


def test_it_links_the_statistics_from_the_call(client, owner, staff, call):
    page = login(client, owner).get(reverse("web:call_detail", kwargs={"public_id": call.public_id}))
    assert shows(page, public_url(call)) and not shows(page, staff_url(call))
    page = login(client, staff).get(reverse("web:call_detail", kwargs={"public_id": call.public_id}))
    assert shows(page, staff_url(call))


def test_it_hides_a_call_not_yet_opened_from_the_public(client, staff):
    upcoming = builders.make_call(staff, open_now=False)
    assert client.get(public_url(upcoming)).status_code == 404
