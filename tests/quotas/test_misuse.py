"""Staff's misuse report suspends the award in the same transaction."""

import pytest

from portal.audit.models import AuditEvent
from portal.errors import InvalidInput, NotAllowed
from portal.notifications.models import Notification
from quotas.misuse import misuse_report_file
from quotas.models import AllocationStatus, MisuseReport
from tests import builders

pytestmark = pytest.mark.django_db


def test_filing_suspends_the_award_audits_and_tells_the_organisation(allocation, staff, owner, teammate):
    report = misuse_report_file(
        allocation=allocation, staff=staff, kind="commercial_resale", description="Resold to a client."
    )
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.SUSPENDED
    assert (report.kind, report.reported_by, report.description) == (
        "commercial_resale",
        staff,
        "Resold to a client.",
    )
    actions = list(
        AuditEvent.objects.filter(target_id=allocation.public_id)
        .filter(action__in=["misuse_reported", "allocation_suspended"])
        .values_list("action", "to_state")
    )
    assert actions == [("misuse_reported", ""), ("allocation_suspended", "suspended")]
    told = Notification.objects.get(subject__startswith="Allocation suspended")
    assert told.recipient == owner and "Commercial resale or use" in told.body
    assert "Resold to a client." not in told.body  # the description stays with staff


def test_a_report_on_a_suspended_award_is_filed_and_changes_nothing_else(allocation, staff):
    type(allocation).objects.filter(pk=allocation.pk).update(status=AllocationStatus.SUSPENDED)
    misuse_report_file(allocation=allocation, staff=staff, kind="other", description="Second report.")
    assert MisuseReport.objects.count() == 1
    assert not AuditEvent.objects.filter(action="allocation_suspended").exists()


@pytest.mark.parametrize(
    ("kind", "description", "fields"),
    [
        ("piracy", "x", {"kind": ["Choose one of: commercial_resale, account_sharing, off_purpose, other."]}),
        ("other", "  ", {"description": ["Describe what was reported."]}),
        ("other", "x" * 4001, {"description": ["At most 4,000 characters."]}),
    ],
)
def test_it_refuses_bad_reports_and_writes_nothing(allocation, staff, kind, description, fields):
    before = builders.row_counts()
    with pytest.raises(InvalidInput) as error:
        misuse_report_file(allocation=allocation, staff=staff, kind=kind, description=description)
    assert error.value.fields == fields
    assert builders.row_counts() == before
    allocation.refresh_from_db()
    assert allocation.status == AllocationStatus.ACTIVE


def test_only_staff_file(allocation, owner):
    with pytest.raises(NotAllowed):
        misuse_report_file(allocation=allocation, staff=owner, kind="other", description="Hm")
    assert not MisuseReport.objects.exists()
