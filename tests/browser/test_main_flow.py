"""The main flow in English and in Korean, in a real browser: sign up → organisation → apply → review → award → job → usage.

Staff and a reviewer exist beforehand (as the programme's own accounts would); everything the applicant,
the reviewer and staff do happens through the pages. The scheduler is driven in the test with the
scripted backend, so the job's progress is what the test says, when it says it.

In Korean every visitor switches through the header's switcher first, and the test finds labels and
messages through the catalogue (gettext on the templates' English msgids), not through Korean typed here.
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.utils import timezone, translation

from portal.environments.services import environment_create
from portal.notifications.models import Notification
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


def translator(language: str):
    """_(msgid, **values) → the msgid as the portal shows it in ``language``, values filled in."""

    def _(msgid: str, **values) -> str:
        with translation.override(language):
            text = translation.gettext(msgid)
        return text % values if values else text

    return _


def switch_language(visitor, language: str) -> None:
    """Use the header's switcher (in English, as the page is before the switch) on the current page."""
    if language == "en":
        return
    page = visitor.page
    page.get_by_label("Language").select_option(language)
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", language)


def emailed_link(address: str) -> str:
    """The path of the link in the last email queued to ``address`` (the outbox's row)."""
    body = Notification.objects.filter(to_email=address).latest("created_at").body
    return urlsplit(re.search(r"https?://\S+", body).group(0)).path


def log_in(visitor, email: str, password: str, _) -> None:
    page = visitor.goto("/accounts/login/")
    page.get_by_label(_("Email")).fill(email)
    page.get_by_label(_("Password"), exact=True).fill(password)
    page.get_by_role("button", name=_("Log in")).click()
    page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))


@pytest.mark.parametrize("language", ["en", "ko"])
def test_it_takes_an_applicant_from_sign_up_to_a_finished_job_and_its_usage(visitors, programme, language):
    _ = translator(language)
    applicant = visitors(f"applicant-{language}")
    staff = visitors(f"staff-{language}")
    reviewer = visitors(f"reviewer-{language}")

    # Sign up and register an organisation.
    page = applicant.goto("/accounts/signup/")
    switch_language(applicant, language)
    expect(page.locator("html")).to_have_attribute("lang", language)
    applicant.assert_accessible(f"sign up {language}")
    page.get_by_label(_("Email")).fill(APPLICANT)
    page.get_by_label(_("Full name")).fill("Mina Park")
    page.get_by_role("button", name=_("Sign up")).click()
    # The same answer whether or not the address has an account; the email carries the next step.
    expect(page.get_by_role("heading", name=_("Check your email"))).to_be_visible()
    applicant.assert_accessible(f"check your email {language}")
    page = applicant.goto(emailed_link(APPLICANT))
    expect(page.get_by_text(APPLICANT)).to_be_visible()
    page.get_by_label(_("Password"), exact=True).fill(APPLICANT_PASSWORD)
    page.get_by_label(_("Password again")).fill(APPLICANT_PASSWORD)
    applicant.assert_accessible(f"finish signing up {language}")
    page.get_by_role("button", name=_("Create my account")).click()
    expect(page.get_by_role("heading", name=_("Welcome, %(name)s", name="Mina Park"))).to_be_visible()
    applicant.assert_accessible(f"home {language}")

    page = applicant.goto("/organisations/new/")
    page.get_by_label(_("Name")).fill("Mina's AI Startup")
    page.get_by_label(_("Type")).select_option("startup")
    page.get_by_label(_("Region")).select_option("non_capital")
    page.get_by_label(_("Registration number")).fill("123-45-67890")
    applicant.shot(f"organisation form {language}")
    page.get_by_role("button", name=_("Register")).click()
    expect(page.get_by_role("heading", name="Mina's AI Startup")).to_be_visible()
    applicant.shot(f"organisation {language}")

    # Staff verify the registration.
    staff.goto("/accounts/login/")
    switch_language(staff, language)
    staff.assert_accessible(f"login {language}")
    log_in(staff, "staff@example.test", builders.PASSWORD, _)
    page = staff.goto("/staff/organisations/")
    row = page.get_by_role("row").filter(has_text="Mina's AI Startup")
    row.get_by_role("button", name=_("Verify")).click()
    expect(
        page.get_by_role("row").filter(has_text="Mina's AI Startup").get_by_role("button", name=_("Unverify"))
    ).to_be_visible()
    staff.assert_accessible(f"staff organisations {language}")

    # Apply.
    page = applicant.goto("/applications/new/")
    page.get_by_role("link", name="2026 AI compute support").click()
    page.get_by_label(_("Project title")).fill("Korean legal LLM")
    page.get_by_label(_("Summary")).fill("Fine-tune a 7B model on Korean statutes and case law.")
    page.get_by_label(_("Most GPUs in use at once")).fill("8")
    page.get_by_label(_("Why you need public GPU time")).fill("We cannot afford commercial GPU time.")
    page.get_by_label(_("%(gpu_type)s GPU-hours", gpu_type="A100")).fill("1000")
    applicant.assert_accessible(f"application form {language}")
    page.get_by_role("button", name=_("Save draft")).click()
    expect(page.get_by_role("status")).to_contain_text(_("Your draft is saved. Submit it when it is ready."))
    page.get_by_role("button", name=_("Submit for review")).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("Your application is submitted. Staff will assign reviewers.")
    )
    application_url = page.url
    applicant.shot(f"application submitted {language}")

    # Staff assign the reviewer.
    page = staff.goto(application_url.removeprefix(staff.base_url))
    page.get_by_label(re.compile("Reviewer Lee")).check()
    page.get_by_role("button", name=_("Assign")).click()
    expect(page.get_by_role("status")).to_contain_text(_("%(count)d reviewer(s) assigned.", count=1))
    staff.shot(f"reviewer assigned {language}")

    # The reviewer scores.
    reviewer.goto("/accounts/login/")
    switch_language(reviewer, language)
    log_in(reviewer, "reviewer@example.test", builders.PASSWORD, _)
    page = reviewer.goto("/reviews/")
    page.get_by_role("link", name="Korean legal LLM").click()
    for criterion in ("Technical merit", "Feasibility", "Impact", "Need for public compute"):
        page.get_by_role("group", name=_(criterion)).get_by_label("4").check()
    page.get_by_label(_("Comment for the applicant")).fill("A clear plan.")
    reviewer.assert_accessible(f"review form {language}")
    page.get_by_role("button", name=_("Submit review")).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("Your review is saved. You can correct it while the review is open.")
    )
    reviewer.shot(f"review submitted {language}")

    # Staff award.
    page = staff.goto(application_url.removeprefix(staff.base_url))
    page.get_by_label(_("Approve"), exact=True).check()
    page.get_by_label(_("Reason (the applicant sees it)")).fill("Strong public benefit.")
    page.get_by_label(_("%(gpu_type)s GPU-hours to award", gpu_type="A100")).fill("800")
    staff.shot(f"decision form {language}")
    page.get_by_role("button", name=_("Record decision")).click()
    expect(page.get_by_role("status")).to_contain_text(
        _("The decision is recorded and the applicant is notified.")
    )
    # The state badge: in Korean the decision table's "Approve" reads the same as "Approved".
    expect(page.locator(".badge.state-approved")).to_have_text(_("Approved"))
    staff.shot(f"approved {language}")
    staff.goto("/staff/")
    staff.assert_accessible(f"staff home {language}")

    # The applicant submits a job.
    page = applicant.goto("/jobs/new/")
    page.get_by_label(_("Name"), exact=True).fill("legal-llm finetune")
    page.get_by_label(_("Software environment")).select_option("pytorch-2.5")
    page.get_by_label(_("Command")).fill("python\ntrain.py")
    page.get_by_label(_("GPU type")).select_option("A100")
    page.get_by_label(_("GPUs per pod")).fill("4")
    page.get_by_label(_("Maximum run time (minutes)")).fill("120")
    applicant.assert_accessible(f"job form {language}")
    page.get_by_role("button", name=_("Submit job")).click()
    expect(page.get_by_role("heading", name="legal-llm finetune")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text(
        _("The job is queued. Its page shows its place in the queue and when it may start.")
    )
    applicant.assert_accessible(f"job queued {language}")

    # Watch it run: the scheduler places it, the backend reports it running, then finished.
    backend = programme["backend"]
    job = Job.objects.get(name="legal-llm finetune")
    started = timezone.now()
    # Submission asks the worker for a cycle on commit (a message nobody consumes here): run it now.
    run_cycle(backend=backend, now=started)
    assert str(job.public_id) in backend.bound
    backend.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=backend)
    page.reload()
    # The state badge: in Korean the event list's "running" reason reads the same as the state.
    expect(page.locator(".badge.job-running")).to_have_text(_("Running"))
    applicant.shot(f"job running {language}")

    backend.set_phase(str(job.public_id), Phase.SUCCEEDED, exit_code=0)
    Job.objects.filter(pk=job.pk).update(run_started_at=started - timedelta(minutes=30))  # it ran 30 min
    reconcile_jobs(backend=backend)
    page.reload()
    expect(page.locator(".badge.job-succeeded")).to_have_text(_("Finished successfully"))
    applicant.assert_accessible(f"job succeeded {language}")

    # Usage and charts on the allocation page: 4 GPUs × 30 min = 2 GPU-hours used of 800.
    page = applicant.goto("/allocations/")
    # The chart's caption, as the portal words it in this language, up to the 7-day rate that follows.
    burn = _(
        "%(used)s of %(awarded)s %(gpu_type)s GPU-hours used; %(rate)s GPU-hours a day over the last 7 days."
    )
    used_sentence = burn.split("%(rate)s")[0].strip() % {"used": "2.00", "awarded": "800", "gpu_type": "A100"}
    page.get_by_role("link", name=re.compile("Korean legal LLM")).first.click()
    expect(page.locator("figcaption").filter(has_text=used_sentence)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("A100"))).to_be_visible()
    page.get_by_text(_("%(gpu_type)s: GPU-hours used by day, as a table", gpu_type="A100")).click()
    expect(page.get_by_role("table").filter(has_text=_("GPU-hours used")).first).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", language)
    applicant.assert_accessible(f"allocation {language}")

    # Staff see the fleet the job ran on.
    page = staff.goto("/staff/")
    page.get_by_role("link", name=_("Fleet")).click()
    expect(page.get_by_role("heading", name=_("Fleet"), exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name=_("GPUs by node"))).to_be_visible()
    expect(page.get_by_text("node-a").first).to_be_visible()
    used = (
        page.get_by_role("row")
        .filter(has_text="Mina's AI Startup")
        .filter(has_text="2.00")
        .filter(visible=True)
    )
    expect(used).to_have_count(1)
    staff.assert_accessible(f"staff fleet {language}")
