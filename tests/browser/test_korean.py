"""The key pages in Korean, reached through the header's language switcher, and checked by axe-core."""

import pytest

from scheduler.inventory import inventory_sync
from tests import builders

expect = pytest.importorskip("playwright.sync_api", reason="needs playwright: the [dev] extra").expect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_it_switches_to_korean_and_shows_the_key_pages_in_it(visitors, owner, allocation, backend):
    inventory_sync(backend=backend)
    job = builders.queued_job(owner, allocation, name="korean-run")
    applicant = visitors("applicant")
    applicant.log_in(owner.email, builders.PASSWORD)

    page = applicant.goto("/")
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="Owner Choi 님, 환영합니다")).to_be_visible()
    expect(page.get_by_role("navigation").get_by_role("link", name="배정")).to_be_visible()
    applicant.assert_accessible("home ko")

    page = applicant.goto("/applications/new/")
    expect(page.get_by_role("heading", name="GPU 자원 신청")).to_be_visible()
    applicant.assert_accessible("choose call ko")

    page = applicant.goto("/jobs/new/")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="작업 제출")).to_be_visible()
    expect(page.get_by_role("button", name="작업 제출")).to_be_visible()
    applicant.assert_accessible("job form ko")

    page = applicant.goto(f"/jobs/{job.public_id}/")
    expect(page.get_by_role("heading", name="korean-run")).to_be_visible()
    applicant.assert_accessible("job ko")

    page = applicant.goto(f"/allocations/{allocation.public_id}/")
    expect(page.get_by_role("heading", name="시간에 따른 GPU 시간 사용량")).to_be_visible()
    applicant.assert_accessible("allocation ko")

    # The switcher also keeps the choice on the account, for the emails the applicant is sent.
    owner.refresh_from_db()
    assert owner.language == "ko"


def test_it_shows_the_staff_pages_in_korean(visitors, staff, allocation, backend):
    inventory_sync(backend=backend)
    visitor = visitors("staff")
    visitor.log_in(staff.email, builders.PASSWORD)
    page = visitor.goto("/staff/")
    page.get_by_label("Language").select_option("ko")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_role("heading", name="담당자", exact=True)).to_be_visible()
    visitor.assert_accessible("staff home ko")

    page.get_by_role("link", name="GPU 현황").click()
    expect(page.get_by_role("heading", name="노드별 GPU")).to_be_visible()
    visitor.assert_accessible("staff fleet ko")
