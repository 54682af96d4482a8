import pytest
from django.urls import reverse

from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def detail_url(call) -> str:
    return reverse("web:call_detail", kwargs={"public_id": call.public_id})


def test_it_lists_opened_calls_and_hides_upcoming_ones_from_applicants(client, owner, staff, call):
    upcoming = builders.make_call(staff, title="Next year's call", open_now=False)
    response = login(client, owner).get(reverse("web:call_list"))
    assert shows(response, call.title)
    assert not shows(response, "Next year's call")
    assert client.get(detail_url(upcoming)).status_code == 404
    login(client, staff)
    assert shows(client.get(reverse("web:call_list")), "Next year's call")
    assert client.get(detail_url(upcoming)).status_code == 200


def test_it_shows_each_pool_with_what_is_left(client, owner, allocation, call):
    response = login(client, owner).get(detail_url(call))
    pools = {pool.gpu_type: pool for pool in response.context["pools"]}
    assert (
        pools["A100"].total_gpu_hours,
        pools["A100"].awarded_gpu_hours,
        pools["A100"].available_gpu_hours,
    ) == (100_000, 1500, 98_500)
    content = response.content.decode()
    for text in ("100,000", "1,500", "98,500", "20,000", "H100"):
        assert text in content
    assert shows(response, "SME, Startup, University")


def test_it_offers_apply_only_on_an_open_call_to_members(client, owner, organisation, staff, call):
    closed = builders.make_call(
        staff,
        opens_at=builders.timezone.now() - builders.timedelta(days=40),
        closes_at=builders.timezone.now() - builders.timedelta(days=1),
    )
    login(client, owner)
    apply_link = f"{reverse('web:application_create')}?call={call.public_id}"
    assert apply_link in client.get(detail_url(call)).content.decode()
    assert not client.get(detail_url(closed)).context["can_apply"]
    login(client, staff)  # staff belong to no organisation
    assert not client.get(detail_url(call)).context["can_apply"]
