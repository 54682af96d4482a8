"""The main flow in English, in a real browser: sign up → organisation → apply → review → award → job → usage.

Staff and a reviewer exist beforehand (as the programme's own accounts would); everything the applicant,
the reviewer and staff do happens through the pages. The scheduler is driven in the test with the
scripted backend, so the job's progress is what the test says, when it says it.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.environments.services import environment_create
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job
from scheduler.reconcile import reconcile_jobs
from tests import builders

expect = pytest.importorskip("playwright.sync_api", reason="needs playwright: the [dev] extra").expect

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

APPLICANT = "mina@startup.test"
APPLICANT_PASSWORD = "a long passphrase 2026"


@pytest.fixture
def programme(backend):
    staff = builders.make_user("staff@example.test", staff=True, full_name="Staff Kim")
    reviewer = builders.make_user("reviewer@example.test", reviewer=True, full_name="Reviewer Lee")
    call = builders.make_call(staff, title="2026 AI compute support")
    environment_create(
        staff=staff,
        name="pytorch-2.5",
        display_name="PyTorch 2.5",
        image="registry.example.kr/env/pytorch:2.5-cuda12.4",
        cuda_version="12.4",
        description="PyTorch for training",
    )
    inventory_sync(backend=backend)
    return {"staff": staff, "reviewer": reviewer, "call": call, "backend": backend}


def test_it_takes_an_applicant_from_sign_up_to_a_finished_job_and_its_usage(visitors, programme):
    applicant = visitors("applicant")
    staff = visitors("staff")
    reviewer = visitors("reviewer")

    # Sign up and register an organisation.
    page = applicant.goto("/accounts/signup/")
    applicant.assert_accessible("sign up")
    page.get_by_label("Email").fill(APPLICANT)
    page.get_by_label("Full name").fill("Mina Park")
    page.get_by_label("Password", exact=True).fill(APPLICANT_PASSWORD)
    page.get_by_label("Password again").fill(APPLICANT_PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Welcome, Mina Park")).to_be_visible()
    applicant.assert_accessible("home")

    page = applicant.goto("/organisations/new/")
    page.get_by_label("Name").fill("Mina's AI Startup")
    page.get_by_label("Type").select_option("startup")
    page.get_by_label("Registration number").fill("123-45-67890")
    applicant.shot("organisation form")
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("heading", name="Mina's AI Startup")).to_be_visible()
    applicant.shot("organisation")

    # Staff verify the registration.
    staff.goto("/accounts/login/")
    staff.assert_accessible("login")
    staff.log_in("staff@example.test", builders.PASSWORD)
    page = staff.goto("/staff/organisations/")
    row = page.get_by_role("row").filter(has_text="Mina's AI Startup")
    row.get_by_role("button", name="Verify").click()
    expect(
        page.get_by_role("row").filter(has_text="Mina's AI Startup").get_by_role("button", name="Unverify")
    ).to_be_visible()
    staff.assert_accessible("staff organisations")

    # Apply.
    page = applicant.goto("/applications/new/")
    page.get_by_role("link", name="2026 AI compute support").click()
    page.get_by_label("Project title").fill("Korean legal LLM")
    page.get_by_label("Summary").fill("Fine-tune a 7B model on Korean statutes and case law.")
    page.get_by_label("Most GPUs in use at once").fill("8")
    page.get_by_label("Why you need public GPU time").fill("We cannot afford commercial GPU time.")
    page.get_by_label("A100 GPU-hours").fill("1000")
    applicant.assert_accessible("application form")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_contain_text("Your draft is saved")
    page.get_by_role("button", name="Submit for review").click()
    expect(page.get_by_role("status")).to_contain_text("Your application is submitted")
    application_url = page.url
    applicant.shot("application submitted")

    # Staff assign the reviewer.
    page = staff.goto(application_url.removeprefix(staff.base_url))
    page.get_by_label(re.compile("Reviewer Lee")).check()
    page.get_by_role("button", name="Assign").click()
    expect(page.get_by_role("status")).to_contain_text("1 reviewer(s) assigned")
    staff.shot("reviewer assigned")

    # The reviewer scores.
    reviewer.log_in("reviewer@example.test", builders.PASSWORD)
    page = reviewer.goto("/reviews/")
    page.get_by_role("link", name="Korean legal LLM").click()
    for criterion in ("Technical merit", "Feasibility", "Impact", "Need for public compute"):
        page.get_by_role("group", name=criterion).get_by_label("4").check()
    page.get_by_label("Comment for the applicant").fill("A clear plan.")
    reviewer.assert_accessible("review form")
    page.get_by_role("button", name="Submit review").click()
    expect(page.get_by_role("status")).to_contain_text("Your review is saved")
    reviewer.shot("review submitted")

    # Staff award.
    page = staff.goto(application_url.removeprefix(staff.base_url))
    page.get_by_label("Approve").check()
    page.get_by_label("Reason (the applicant sees it)").fill("Strong public benefit.")
    page.get_by_label("A100 GPU-hours to award").fill("800")
    staff.shot("decision form")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_contain_text("The decision is recorded")
    expect(page.get_by_text("Approved", exact=True)).to_be_visible()
    staff.shot("approved")
    staff.goto("/staff/")
    staff.assert_accessible("staff home")

    # The applicant submits a job.
    page = applicant.goto("/jobs/new/")
    page.get_by_label("Name", exact=True).fill("legal-llm finetune")
    page.get_by_label("Software environment").select_option("pytorch-2.5")
    page.get_by_label("Command").fill("python\ntrain.py")
    page.get_by_label("GPU type").select_option("A100")
    page.get_by_label("GPUs per pod").fill("4")
    page.get_by_label("Maximum run time (minutes)").fill("120")
    applicant.assert_accessible("job form")
    page.get_by_role("button", name="Submit job").click()
    expect(page.get_by_role("heading", name="legal-llm finetune")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("The job is queued")
    applicant.assert_accessible("job queued")

    # Watch it run: the scheduler places it, the backend reports it running, then finished.
    backend = programme["backend"]
    job = Job.objects.get(name="legal-llm finetune")
    started = timezone.now()
    # Submission asks for a cycle on commit (run at once, as Celery is eager in tests); one more is harmless.
    run_cycle(backend=backend, now=started)
    assert str(job.public_id) in backend.bound
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    page.reload()
    expect(page.get_by_text("Running", exact=True)).to_be_visible()
    applicant.shot("job running")

    backend.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)
    Job.objects.filter(pk=job.pk).update(run_started_at=started - timedelta(minutes=30))  # it ran 30 min
    reconcile_jobs(backend=backend)
    page.reload()
    expect(page.get_by_text("Finished successfully", exact=True)).to_be_visible()
    applicant.assert_accessible("job succeeded")

    # Usage and charts on the allocation page: 4 GPUs × 30 min = 2 GPU-hours used of 800.
    page = applicant.goto("/allocations/")
    page.get_by_role("link", name=re.compile("Korean legal LLM")).first.click()
    expect(page.locator("figcaption").filter(has_text="2.00 of 800 A100 GPU-hours used")).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("A100"))).to_be_visible()
    page.get_by_text("A100: GPU-hours used by day, as a table").click()
    expect(page.get_by_role("table").filter(has_text="GPU-hours used").first).to_be_visible()
    applicant.assert_accessible("allocation")

    # Staff see the fleet the job ran on.
    page = staff.goto("/staff/")
    page.get_by_role("link", name="Fleet").click()
    expect(page.get_by_role("heading", name="Fleet", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="GPUs by node")).to_be_visible()
    expect(page.get_by_text("node-a").first).to_be_visible()
    used = (
        page.get_by_role("row")
        .filter(has_text="Mina's AI Startup")
        .filter(has_text="2.00")
        .filter(visible=True)
    )
    expect(used).to_have_count(1)
    staff.assert_accessible("staff fleet")
