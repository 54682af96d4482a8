"""The round's pages with the test client: staff set up tracks and levers (field errors on the page),
propose, change a line, approve; the owner reads and accepts the agreement; members cannot accept."""

import pytest
from django.urls import reverse

from quotas.models import Agreement, AllocationRound, RoundLine
from tests import builders

pytestmark = pytest.mark.django_db


def test_staff_set_up_tracks_and_levers_on_the_page(client, staff, round_call):
    client.force_login(staff)
    url = reverse("web:staff_round_setup", kwargs={"public_id": round_call.public_id})
    page = client.get(url)
    assert page.status_code == 200 and 'value="small"' in page.content.decode()
    bad = client.post(url, {"levers": "1", "regional_share": "0.7", "regional_bonus": "0", "agreement_days": "14",
                            "reclaim_threshold": "0.5", "share_university": "0.5", "agreement_version": "v",
                            "agreement_terms": "t"})  # fmt: skip
    assert bad.status_code == 200
    assert "add up to at most 1" in bad.content.decode()
    round_call.refresh_from_db()
    assert round_call.regional_share == 0.0  # nothing saved
    good = client.post(url, {"levers": "1", "regional_share": "0.2", "regional_bonus": "0.5", "agreement_days": "10",
                             "reclaim_threshold": "0.5", "share_university": "0.4", "agreement_version": "v2",
                             "agreement_terms": "Terms", "max_awards_per_org": "2"})  # fmt: skip
    assert good.status_code == 302
    round_call.refresh_from_db()
    assert (round_call.sector_shares, round_call.regional_share, round_call.max_awards_per_org) == (
        {"university": 0.4},
        0.2,
        2,
    )
    rows = {
        "tracks": "1",
        "0-code": "small", "0-name": "Small", "0-min_gpus": "1", "0-max_gpus": "4", "0-max_days": "200",
        "0-stages": "3+3", "0-pool-A100": "7000",
        "1-code": "", "2-code": "gpu8", "2-name": "Eight", "2-min_gpus": "8", "2-max_gpus": "8",
        "2-max_days": "100", "2-stages": "", "2-pool-H100": "900",
    }  # fmt: skip
    saved = client.post(url, rows)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert sorted(round_call.tracks.values_list("code", "stage_months")) == [("gpu8", []), ("small", [3, 3])]
    wrong = client.post(url, {**rows, "0-stages": "three"})
    assert "Months joined by +" in wrong.content.decode()


def test_staff_propose_change_and_approve_on_the_page(client, staff, round_call, applicants):
    client.force_login(staff)
    page_url = reverse("web:staff_round", kwargs={"public_id": round_call.public_id})
    assert "4 applications are ranked" in client.get(page_url).content.decode()
    client.post(reverse("web:staff_round_propose", kwargs={"public_id": round_call.public_id}))
    page = client.get(page_url).content.decode()
    assert "Awarded at rank 1." in page and "Its organisation is not verified." in page
    line = RoundLine.objects.get(application=applicants[2])
    line_url = reverse(
        "web:staff_round_line",
        kwargs={"public_id": round_call.public_id, "application_id": applicants[2].public_id},
    )
    refused = client.post(line_url, {"decision": "award", "gpu_hours": "5000", "reason": "more"}, follow=True)
    assert "From 1 to the 2,000 GPU-hours asked." in refused.content.decode()
    client.post(line_url, {"decision": "award", "gpu_hours": "1500", "reason": "smaller plan"})
    line.refresh_from_db()
    assert (line.gpu_hours, line.adjustment_reason) == (1500, "smaller plan")
    approved = client.post(
        reverse("web:staff_round_approve", kwargs={"public_id": round_call.public_id}), follow=True
    )
    assert "every applicant is notified" in approved.content.decode()
    assert AllocationRound.objects.get(call=round_call).state == "approved"


def test_the_owner_accepts_the_agreement_on_its_page_and_a_manager_cannot(
    client, staff, round_call, applicants
):
    from quotas.round import round_approve, round_propose

    round_propose(staff=staff, call=round_call)
    round_approve(staff=staff, call=round_call)
    agreement = Agreement.objects.get(allocation__application=applicants[0])
    url = reverse("web:allocation_agreement", kwargs={"public_id": agreement.allocation.public_id})
    manager = builders.make_user()
    builders.add_member(applicants[0].organisation, manager, "manager")
    client.force_login(manager)
    page = client.get(url).content.decode()
    assert "Use the GPUs for the project only." in page and "Only an owner" in page
    client.force_login(applicants[0].created_by)
    detail = client.get(
        reverse("web:allocation_detail", kwargs={"public_id": agreement.allocation.public_id})
    )
    assert "Read and accept the agreement" in detail.content.decode()
    unticked = client.post(url, {"terms_version": "2026-1"})
    assert unticked.status_code == 200
    agreement.refresh_from_db()
    assert agreement.state == "pending"
    client.post(url, {"terms_version": "2026-1", "confirm": "on"}, REMOTE_ADDR="198.51.100.4")
    agreement.refresh_from_db()
    assert (agreement.state, agreement.accepted_from) == ("accepted", "198.51.100.4")


def test_the_admin_shows_rounds_and_agreements_without_changing_them(client, staff, round_call, applicants):
    from quotas.round import round_approve, round_propose

    staff.is_superuser = True
    staff.save(update_fields=["is_superuser"])
    round_propose(staff=staff, call=round_call)
    the_round = round_approve(staff=staff, call=round_call)
    client.force_login(staff)
    page = client.get(f"/admin/quotas/allocationround/{the_round.pk}/change/")
    assert page.status_code == 200 and "P5" in page.content.decode()
    assert client.get("/admin/quotas/agreement/").status_code == 200
    assert client.get("/admin/quotas/agreement/add/").status_code == 403
