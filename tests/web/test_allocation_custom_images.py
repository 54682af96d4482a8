"""Staff decide on the allocation page whether its jobs may give their own image; it is audited."""

import pytest
from django.urls import reverse

from portal.audit.models import AuditEvent
from quotas.models import Allocation
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue_only(allocation):
    Allocation.objects.filter(pk=allocation.pk).update(allow_custom_images=False)
    allocation.refresh_from_db()
    return allocation


def url(allocation) -> str:
    return reverse("web:allocation_set_custom_images", kwargs={"public_id": allocation.public_id})


def test_it_lets_staff_allow_and_refuse_own_images(client, staff, catalogue_only):
    login(client, staff)
    page = client.get(reverse("web:allocation_detail", kwargs={"public_id": catalogue_only.public_id}))
    assert shows(page, "Jobs run catalogue environments only.")
    assert client.post(url(catalogue_only), {"allowed": "1"}).status_code == 302
    catalogue_only.refresh_from_db()
    assert catalogue_only.allow_custom_images
    assert client.post(url(catalogue_only), {"allowed": "0"}).status_code == 302
    catalogue_only.refresh_from_db()
    assert not catalogue_only.allow_custom_images
    actions = list(
        AuditEvent.objects.filter(target_id=catalogue_only.public_id)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["allocation_custom_images_allowed", "allocation_custom_images_refused"]


def test_it_refuses_members(client, owner, catalogue_only):
    login(client, owner)
    assert client.post(url(catalogue_only), {"allowed": "1"}).status_code == 403
    catalogue_only.refresh_from_db()
    assert not catalogue_only.allow_custom_images
