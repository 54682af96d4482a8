"""Staff change an allocation's session rules on its page (the API: tests/api/test_session_settings.py); each change is audited,
and values outside the bounds are field errors."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


def url(allocation) -> str:
    return reverse("web:allocation_set_session_settings", kwargs={"public_id": allocation.public_id})


def test_it_lets_staff_change_the_session_settings(client, staff, allocation):
    login(client, staff)
    page = client.get(reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id}))
    assert page.context["session_settings_form"].initial == {
        "gpu_cap": 1, "idle_minutes": 30, "managers_may_enter": False,
    }  # fmt: skip
    response = client.post(
        url(allocation), {"gpu_cap": "4", "idle_minutes": "90", "managers_may_enter": "on"}
    )
    assert response.status_code == 302
    allocation.refresh_from_db()
    assert (allocation.session_gpu_cap, allocation.session_idle_minutes, allocation.session_managers_may_enter) == (
        4, 90, True,
    )  # fmt: skip
    event = AuditEvent.objects.get(target_id=allocation.public_id, action="allocation_session_settings_set")
    assert event.actor == staff
    assert event.data == {"gpu_cap": [1, 4], "idle_minutes": [30, 90], "managers_may_enter": [False, True]}


def test_it_shows_the_bounds_next_to_the_fields(client, staff, allocation):
    login(client, staff)
    response = client.post(url(allocation), {"gpu_cap": "65", "idle_minutes": "4"})
    assert response.status_code == 200
    form = response.context["session_settings_form"]
    assert form.errors["gpu_cap"] == ["From 0 to 64 GPUs."]
    assert form.errors["idle_minutes"] == ["From 5 to 1440 minutes."]
    assert shows(response, "Nothing was saved.")
    allocation.refresh_from_db()
    assert allocation.session_gpu_cap == 1
    assert not AuditEvent.objects.filter(action="allocation_session_settings_set").exists()


def test_members_may_not_change_them(client, owner, allocation):
    login(client, owner)
    assert client.post(url(allocation), {"gpu_cap": "8", "idle_minutes": "60"}).status_code == 403
