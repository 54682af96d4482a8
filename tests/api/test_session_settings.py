"""PUT /api/v1/allocations/<id>/session-settings: staff only, bounds as field errors, audited."""

import pytest

from portal.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_staff_set_them_through_the_api(client_for, staff, owner, allocation):
    path = f"/api/v1/allocations/{allocation.public_id}/session-settings"
    response = client_for(staff).put(
        path, {"gpu_cap": 0, "idle_minutes": 1440, "managers_may_enter": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"gpu_cap": 0, "idle_minutes": 1440, "managers_may_enter": False}
    assert AuditEvent.objects.get(action="allocation_session_settings_set").data == {
        "gpu_cap": [1, 0], "idle_minutes": [30, 1440],
    }  # fmt: skip
    bad = client_for(staff).put(
        path, {"gpu_cap": -1, "idle_minutes": 2000, "managers_may_enter": True}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["extra"]["fields"]) == {"gpu_cap", "idle_minutes"}
    assert (
        client_for(owner)
        .put(path, {"gpu_cap": 2, "idle_minutes": 60, "managers_may_enter": True}, format="json")
        .status_code
        == 403
    )
