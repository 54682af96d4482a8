"""A seeded round of 500 applications run through the portal in a real browser: ranked, proposed,
a line changed, approved, and an award's agreement accepted by its organisation's owner.

The round is seeded with ``seed_round`` (what ``manage.py seed_round`` runs): every application created,
submitted, reviewed and scored through the services. Staff and the owner then act through the pages only.
"""

import re

import pytest

from portal.audit.models import AuditEvent
from portal.notifications.models import Notification
from portal.web.round_seed import PASSWORD, seed_round
from quotas.models import Agreement, Allocation, AllocationRound, RoundLine

expect = pytest.importorskip("playwright.sync_api", reason="needs playwright: the [dev] extra").expect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_round_of_500_is_proposed_adjusted_approved_and_signed_in_the_browser(visitors):
    seeded = seed_round(applications_count=500, seed=3, tag="browser")
    call = seeded.call

    staff = visitors("staff")
    staff.log_in(seeded.staff.email, PASSWORD)
    page = staff.goto(f"/staff/calls/{call.public_id}/round/")
    expect(page.get_by_text("500 applications are ranked by the panel.")).to_be_visible()
    page.get_by_role("button", name="Propose the round").click()
    expect(page.get_by_role("heading", name="Proposed round")).to_be_visible()
    rows = page.locator("table.round-lines tbody tr")
    expect(rows).to_have_count(500)
    expect(page.locator("#line-1")).to_contain_text("Awarded at rank 1.")
    staff.assert_accessible("proposed round")

    # the first waitlisted line that a full pool stopped: staff award it part of what it asked, instead
    # of the last awarded line of the same track, which they waitlist
    waitlisted = RoundLine.objects.filter(round__call=call, reason="pool_full").order_by("position").first()
    same_track = (
        RoundLine.objects.filter(
            round__call=call, decision="award", application__track=waitlisted.application.track
        )
        .order_by("-position")
        .first()
    )
    row = page.locator(f"#line-{same_track.position}")
    row.get_by_label("Decision").select_option("waitlist")
    row.get_by_label("Why").fill("Swapped for a stronger data plan")
    row.get_by_role("button", name="Change").click()
    expect(page.get_by_text(f"Line {same_track.position} is changed.")).to_be_visible()
    row = page.locator(f"#line-{waitlisted.position}")
    row.get_by_label("Decision").select_option("award")
    row.get_by_label("GPU-hours").fill(str(min(waitlisted.asked_gpu_hours, same_track.gpu_hours)))
    row.get_by_label("Why").fill("Stronger data plan")
    row.get_by_role("button", name="Change").click()
    expect(page.get_by_text(f"Line {waitlisted.position} is changed.")).to_be_visible()
    expect(page.locator(f"#line-{waitlisted.position} .line-decision")).to_contain_text(
        "changed: Stronger data plan"
    )

    awards = RoundLine.objects.filter(round__call=call, decision="award").count()
    page.get_by_role("button", name="Approve the round").click()
    expect(page.get_by_text("The round is approved; every applicant is notified.")).to_be_visible()
    expect(page.get_by_role("heading", name="Approved round")).to_be_visible()
    assert AllocationRound.objects.get(call=call).state == "approved"
    assert Allocation.objects.filter(call=call, status="awaiting_agreement").count() == awards
    assert AuditEvent.objects.filter(action="round_waitlisted").count() == 500 - awards
    assert AuditEvent.objects.filter(action="round_line_adjusted").count() == 2
    first = RoundLine.objects.select_related("application__created_by").get(round__call=call, position=1)
    assert (
        Notification.objects.filter(
            recipient=first.application.created_by, subject__startswith="Approved"
        ).count()
        == 1
    )

    owner = visitors("owner")
    owner.log_in(first.application.created_by.email, PASSWORD)
    allocation = Allocation.objects.get(application=first.application)
    page = owner.goto(f"/allocations/{allocation.public_id}/")
    page.get_by_role("link", name="Read and accept the agreement").click()
    expect(page.get_by_role("heading", name=re.compile("Terms \\(version 2026-R1\\)"))).to_be_visible()
    owner.assert_accessible("agreement")
    page.get_by_label("I have read the terms and accept them for my organisation.").check()
    page.get_by_role("button", name="Accept the agreement").click()
    expect(page.get_by_text("The agreement is accepted; the award is active.")).to_be_visible()
    agreement = Agreement.objects.get(allocation=allocation)
    assert agreement.state == "accepted" and agreement.accepted_from == "127.0.0.1"
    assert agreement.terms_version == "2026-R1"
    allocation.refresh_from_db()
    assert allocation.status == "active"
