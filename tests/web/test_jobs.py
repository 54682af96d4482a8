"""Job pages: list with filters, a job's page (queue facts, events, logs), submit through the service, cancel."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from quotas import services as quota_services
from quotas.models import Allocation, AllocationBudget, AllocationStatus
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job, JobEvent, SubmissionKey
from scheduler.reconcile import reconcile_jobs
from scheduler.services import job_submit
from tests import builders
from tests.web.conftest import login, shows

pytestmark = pytest.mark.django_db

LIST_URL = reverse("web:job_list")
NEW_URL = reverse("web:job_submit")


@pytest.fixture
def allocation(owner, organisation, call, staff, reviewer):
    """As in tests/conftest.py: 2000 A100 and 500 H100 GPU-hours, at most 16 GPUs at once."""
    application = builders.ready_for_decision(
        owner,
        organisation,
        call,
        staff,
        reviewer,
        project_title="Approved LLM project",
        gpu_requests={"A100": 2000, "H100": 500},
        max_concurrent_gpus=16,
    )
    quota_services.application_decide(application=application, staff=staff, decision="approve", reason="ok")
    return builders.allowing_custom_images(Allocation.objects.get(application=application))


@pytest.fixture
def nodes(backend):
    """The scripted cluster: one 8-GPU A100 node and one 8-GPU H100 node."""
    inventory_sync(backend=backend)
    return backend


def detail_url(job) -> str:
    return reverse("web:job_detail", kwargs={"public_id": job.public_id})


def cancel_url(job) -> str:
    return reverse("web:job_cancel", kwargs={"public_id": job.public_id})


def submit(user, allocation, *, name="bert-finetune", kind="training", gpus_per_pod=2, pods=1, minutes=60):
    return job_submit(
        user=user,
        allocation=allocation,
        name=name,
        kind=kind,
        image="registry.example.kr/team/train:1.2",
        command=["python", "train.py"],
        environment={"SEED": "7"},
        gpu_type="A100",
        gpus_per_pod=gpus_per_pod,
        pods=pods,
        max_runtime_minutes=minutes,
    )


def form_data(the_allocation, **overrides) -> dict:
    data = {
        "allocation": str(the_allocation.public_id),
        "name": "bert-finetune",
        "kind": "training",
        "image": "registry.example.kr/team/train:1.2",
        "command": "python\ntrain.py\n--epochs\n3\n",
        "environment": "SEED=7\nEXTRA_ARGS=--lr=0.1\n",
        "gpu_type": "A100",
        "gpus_per_pod": "2",
        "pods": "1",
        "max_runtime_minutes": "60",
        "priority": "normal",
        "submission_key": "4b8f3d0c1e2a4f6b9c7d5e3f1a2b3c4d",
    }
    data.update(overrides)
    return data


def held(allocation, gpu_type="A100") -> int:
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type).held_gpu_seconds


def written(allocation) -> tuple[int, int, int, int]:
    return Job.objects.count(), JobEvent.objects.count(), SubmissionKey.objects.count(), held(allocation)


# Access


def test_it_sends_anonymous_visitors_to_the_login_page(client, owner, allocation, nodes):
    job = submit(owner, allocation)
    for url in (LIST_URL, NEW_URL, detail_url(job)):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    response = client.post(cancel_url(job))
    assert response.status_code == 302 and response["Location"].startswith(reverse("web:login"))
    assert Job.objects.get(pk=job.pk).state == "queued"


def test_it_shows_members_their_organisations_jobs(client, owner, teammate, allocation, nodes):
    job = submit(owner, allocation, name="owners-run")
    response = login(client, teammate).get(LIST_URL)
    assert [row["job"] for row in response.context["rows"]] == [job]
    assert (
        shows(response, "owners-run")
        and shows(response, "1 × 2 A100")
        and shows(response, "Waiting in the queue")
    )
    page = client.get(detail_url(job))
    assert page.status_code == 200 and shows(page, "registry.example.kr/team/train:1.2")
    assert shows(page, "SEED=7") and shows(page, "train.py")


def test_it_hides_other_organisations_jobs_from_outsiders(client, owner, outsider, allocation, nodes):
    job = submit(owner, allocation, name="secret-run")
    login(client, outsider)
    listing = client.get(LIST_URL)
    assert listing.context["rows"] == [] and not shows(listing, "secret-run")
    assert not shows(client.get(reverse("web:home")), "secret-run")
    assert client.get(detail_url(job)).status_code == 404
    assert client.post(cancel_url(job)).status_code == 404
    job.refresh_from_db()
    assert job.state == "queued" and held(allocation) == 2 * 3600


def test_it_shows_staff_every_organisations_jobs(
    client, owner, outsider, staff, allocation, other_allocation, nodes
):
    ours = submit(owner, allocation, name="ours")
    theirs = submit(outsider, other_allocation, name="theirs")
    response = login(client, staff).get(LIST_URL)
    assert [row["job"] for row in response.context["rows"]] == [theirs, ours]
    assert client.get(detail_url(ours)).status_code == 200


def test_it_links_jobs_in_the_navigation(client, owner):
    nav = login(client, owner).get(reverse("web:home")).content.decode().split("</nav>")[0]
    assert f'href="{LIST_URL}"' in nav


# Submitting


def test_it_submits_a_job_through_the_service_and_holds_its_gpu_hours(client, owner, allocation, nodes):
    page = login(client, owner).get(NEW_URL)
    assert len(page.context["form"]["submission_key"].value()) == 32
    assert 'name="csrfmiddlewaretoken"' in page.content.decode()
    response = client.post(NEW_URL, form_data(allocation))
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == detail_url(job)
    assert (job.state, job.organisation_id, job.allocation_id, job.created_by) == (
        "queued",
        allocation.organisation_id,
        allocation.pk,
        owner,
    )
    assert job.command == ["python", "train.py", "--epochs", "3"]
    assert job.environment == {"SEED": "7", "EXTRA_ARGS": "--lr=0.1"}
    assert (job.gpu_type, job.gpus_per_pod, job.pods, job.max_runtime_minutes, job.priority) == (
        "A100",
        2,
        1,
        60,
        "normal",
    )
    assert job.hold_gpu_seconds == held(allocation) == 2 * 60 * 60
    assert [e.to_state for e in job.events.all()] == ["queued"]
    page = client.get(response["Location"])
    assert shows(page, "The job is queued.") and shows(page, "Waiting for the first scheduling cycle.")


def test_it_takes_the_command_as_a_json_list(client, owner, allocation, nodes):
    data = form_data(allocation, command='["bash", "-c", "echo a  b"]', environment="")
    login(client, owner).post(NEW_URL, data)
    job = Job.objects.get()
    assert job.command == ["bash", "-c", "echo a  b"] and job.environment == {}


def test_it_creates_one_job_when_the_same_form_is_sent_twice(client, owner, allocation, nodes):
    login(client, owner)
    first = client.post(NEW_URL, form_data(allocation))
    second = client.post(NEW_URL, form_data(allocation))
    assert Job.objects.count() == 1 and held(allocation) == 2 * 3600
    assert first["Location"] == second["Location"] == detail_url(Job.objects.get())
    assert shows(client.get(second["Location"]), "This form was already submitted")
    # The same form sent back with other values is refused, and offered again with a fresh key.
    changed = client.post(NEW_URL, form_data(allocation, name="another-run"))
    assert changed.status_code == 200 and Job.objects.count() == 1
    assert any("already used" in error for error in changed.context["form"].non_field_errors())
    fresh_key = changed.context["form"]["submission_key"].value()
    assert fresh_key != form_data(allocation)["submission_key"]
    third = client.post(NEW_URL, form_data(allocation, name="another-run", submission_key=fresh_key))
    assert third.status_code == 302 and Job.objects.count() == 2


def test_it_submits_without_a_submission_key_too(client, owner, allocation, nodes):
    login(client, owner).post(NEW_URL, form_data(allocation, submission_key=""))
    client.post(NEW_URL, form_data(allocation, submission_key="not-a-key"))
    assert Job.objects.count() == 2


BAD_JOBS = {
    "empty name": ({"name": ""}, "name"),
    "long name": ({"name": "x" * 101}, "name"),
    "unknown kind": ({"kind": "mining"}, "kind"),
    "bad image": ({"image": "Not An Image!"}, "image"),
    "no command": ({"command": "  \n \n"}, "command"),
    "empty JSON command": ({"command": "[]"}, "command"),
    "JSON command with a number": ({"command": '["python", 3]'}, "command"),
    "broken JSON command": ({"command": '["python", '}, "command"),
    "bad variable name": ({"environment": "1BAD=x"}, "environment"),
    "reserved variable": ({"environment": "CUDA_VISIBLE_DEVICES=0"}, "environment"),
    "variable without a value": ({"environment": "SEED"}, "environment"),
    "variable given twice": ({"environment": "SEED=1\nSEED=2"}, "environment"),
    "no GPUs per pod": ({"gpus_per_pod": "0"}, "gpus_per_pod"),
    "nine GPUs per pod": ({"gpus_per_pod": "9"}, "gpus_per_pod"),
    "GPUs per pod in words": ({"gpus_per_pod": "two"}, "gpus_per_pod"),
    "no pods": ({"pods": "0"}, "pods"),
    "no runtime": ({"max_runtime_minutes": "0"}, "max_runtime_minutes"),
    "runtime too long": ({"max_runtime_minutes": str(10**7)}, "max_runtime_minutes"),
    "runtime missing": ({"max_runtime_minutes": ""}, "max_runtime_minutes"),
    "unknown priority": ({"priority": "urgent"}, "priority"),
    "high priority from a member": ({"priority": "high"}, "priority"),
    "GPU type not awarded": ({"gpu_type": "V100"}, "gpu_type"),
    "above the allocation's cap": ({"gpus_per_pod": "8", "pods": "3"}, "pods"),
    "larger than the cluster": ({"gpus_per_pod": "8", "pods": "2"}, "pods"),
    "unknown allocation": ({"allocation": "00000000-0000-0000-0000-000000000000"}, "allocation"),
    "malformed allocation": ({"allocation": "nope"}, "allocation"),
}


@pytest.mark.parametrize("case", sorted(BAD_JOBS))
def test_it_refuses_bad_jobs_field_by_field_and_writes_nothing(client, owner, allocation, nodes, case):
    overrides, field = BAD_JOBS[case]
    before = written(allocation)
    response = login(client, owner).post(NEW_URL, form_data(allocation, **overrides))
    assert response.status_code == 200
    assert field in response.context["form"].errors, response.context["form"].errors
    assert shows(response, "Nothing was saved.")
    assert written(allocation) == before


def test_it_shows_the_services_reason_next_to_the_field(client, owner, allocation, nodes):
    response = login(client, owner).post(NEW_URL, form_data(allocation, gpu_type="V100"))
    assert response.context["form"].errors["gpu_type"] == [
        "This allocation has no V100 GPU-hours (awarded: A100, H100)."
    ]
    response = client.post(NEW_URL, form_data(allocation, priority="high"))
    assert response.context["form"].errors["priority"] == [
        "Only programme staff may submit high-priority jobs."
    ]


def test_it_refuses_a_job_above_the_remaining_budget_on_the_runtime_field(client, owner, allocation, nodes):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        used_gpu_seconds=2000 * 3600 - 3600
    )
    before = written(allocation)
    response = login(client, owner).post(NEW_URL, form_data(allocation))
    (error,) = response.context["form"].errors["max_runtime_minutes"]
    assert "remain after other jobs' holds" in error
    assert written(allocation) == before


def test_it_refuses_an_allocation_outside_its_dates(client, owner, allocation, nodes):
    Allocation.objects.filter(pk=allocation.pk).update(ends_on=timezone.localdate() - timedelta(days=1))
    response = login(client, owner).post(NEW_URL, form_data(allocation))
    assert "allocation" in response.context["form"].errors
    assert not Job.objects.exists()


def test_it_refuses_another_organisations_allocation(client, owner, allocation, other_allocation, nodes):
    response = login(client, owner).post(NEW_URL, form_data(other_allocation))
    assert "allocation" in response.context["form"].errors
    assert not Job.objects.exists()


@pytest.mark.parametrize("status", [AllocationStatus.SUSPENDED, AllocationStatus.EXPIRED])
def test_it_offers_no_form_without_an_active_allocation(client, owner, allocation, nodes, status):
    allocation.status = status
    allocation.save()
    login(client, owner)
    page = client.get(NEW_URL)
    assert "form" not in page.context and shows(page, "you have none")
    response = client.post(NEW_URL, form_data(allocation))
    assert response.status_code == 200 and "form" not in response.context
    assert not Job.objects.exists() and held(allocation) == 0


def test_it_preselects_an_allocation_and_offers_its_gpu_types(client, owner, allocation):
    login(client, owner)
    form = client.get(f"{NEW_URL}?allocation={allocation.public_id}").context["form"]
    assert form["allocation"].value() == allocation.public_id
    assert [value for value, _ in form.fields["gpu_type"].widget.choices] == ["A100", "H100"]
    assert [value for value, _ in form.fields["priority"].widget.choices] == ["low", "normal"]
    page = client.get(f"{NEW_URL}?allocation=00000000-0000-0000-0000-000000000000")
    assert page.status_code == 200 and shows(page, "not one of your active allocations")


def test_it_lets_staff_members_submit_high_priority_jobs(client, staff, organisation, allocation, nodes):
    builders.add_member(organisation, staff)
    login(client, staff)
    form = client.get(NEW_URL).context["form"]
    assert "high" in [value for value, _ in form.fields["priority"].widget.choices]
    client.post(NEW_URL, form_data(allocation, priority="high"))
    assert Job.objects.get().priority == "high"


# Cancelling


def test_it_cancels_a_queued_job_at_once(client, teammate, owner, allocation, nodes):
    job = submit(owner, allocation)
    login(client, teammate)
    cancel_form = re.search(
        rf'<form method="post" action="{cancel_url(job)}">.*?</form>',
        client.get(detail_url(job)).content.decode(),
        re.S,
    )
    assert cancel_form and 'name="csrfmiddlewaretoken"' in cancel_form.group()
    response = client.post(cancel_url(job))
    assert response["Location"] == detail_url(job)
    job.refresh_from_db()
    assert job.state == "cancelled" and held(allocation) == 0
    page = client.get(detail_url(job))
    assert shows(page, "The job is cancelled") and f'action="{cancel_url(job)}"' not in page.content.decode()
    assert [e.to_state for e in page.context["events"]] == ["queued", "cancelled"]


def test_it_stops_a_running_job_and_ends_it(
    client, owner, allocation, nodes, django_capture_on_commit_callbacks
):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.set_phase(str(job.public_id), Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    login(client, owner)
    running = client.get(detail_url(job))
    assert running.context["job"].state == "running" and running.context["can_cancel"]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(cancel_url(job))
    assert (str(job.public_id), "cancelled") in nodes.stopped
    job.refresh_from_db()
    assert job.state == "cancelled" and held(allocation) == 0
    page = client.get(detail_url(job))
    reasons = [event.reason for event in page.context["events"]]
    assert any("cancel requested" in reason for reason in reasons) and reasons[-1].startswith("cancelled")
    assert shows(page, "cancel requested by owner@example.test")
    again = client.post(cancel_url(job), follow=True)
    assert shows(again, "The job already ended (cancelled).")
    assert JobEvent.objects.filter(job=job).count() == len(reasons)


# The job's page


def test_it_shows_queue_position_estimated_start_and_wait_reason(client, owner, allocation, nodes):
    first = submit(owner, allocation, name="first", gpus_per_pod=8)
    second = submit(owner, allocation, name="second", gpus_per_pod=8)
    login(client, owner)
    assert client.get(detail_url(second)).context["facts"]["wait_reason"].startswith("Waiting for the first")
    run_cycle(backend=nodes)
    running = client.get(detail_url(first))
    assert running.context["job"].state == "scheduled" and shows(running, "node-a")
    assert running.context["job"].placement == [{"node": "node-a", "gpus": list(range(8))}]
    waiting = client.get(detail_url(second))
    facts = waiting.context["facts"]
    assert facts["queue_position"] == 1 and facts["estimated_start"] is not None
    assert "reserved" in facts["wait_reason"]
    assert shows(waiting, "No. 1 in the A100 queue") and shows(waiting, facts["wait_reason"])
    listing = client.get(LIST_URL)
    (row,) = [row for row in listing.context["rows"] if row["job"] == second]
    assert row["facts"] == facts
    assert [row["facts"] for row in listing.context["rows"] if row["job"] == first] == [None]


def test_it_shows_the_end_of_the_logs_bounded(client, owner, allocation, nodes, settings):
    settings.GPUGRANT_LOG_LIMIT_BYTES = 64
    job = submit(owner, allocation)
    login(client, owner)
    assert shows(client.get(detail_url(job)), "the job has not started")
    run_cycle(backend=nodes)
    nodes.log_text[str(job.public_id)] = "".join(f"epoch {n}\n" for n in range(1000)) + "done\n"
    logs = client.get(detail_url(job)).context["logs"]
    assert logs["text"].endswith("epoch 999\ndone\n") and len(logs["text"].encode()) <= 64
    assert "epoch 1\n" not in logs["text"]


def test_it_bounds_logs_even_when_the_backend_sends_more(
    client, owner, allocation, nodes, settings, monkeypatch
):
    settings.GPUGRANT_LOG_LIMIT_BYTES = 10
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    monkeypatch.setattr(nodes, "logs", lambda job_id, limit_bytes: "x" * 5000 + "한글 끝")
    text = login(client, owner).get(detail_url(job)).context["logs"]["text"]
    assert len(text.encode()) <= 10 and text.endswith("한글 끝")


def test_it_says_so_when_the_backend_cannot_give_logs(client, owner, allocation, nodes, monkeypatch):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)

    def broken(job_id, limit_bytes):
        raise ConnectionError("cluster unreachable")

    monkeypatch.setattr(nodes, "logs", broken)
    response = login(client, owner).get(detail_url(job))
    assert response.status_code == 200 and response.context["logs"]["unavailable"]
    assert shows(response, "cannot be fetched from the cluster right now")


def test_it_shows_used_gpu_hours_and_the_exit_code(client, owner, allocation, nodes):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    Job.objects.filter(pk=job.pk).update(run_started_at=timezone.now() - timedelta(minutes=30))
    nodes.set_phase(str(job.public_id), Phase.FAILED, exit_code=3)
    reconcile_jobs(backend=nodes)
    response = login(client, owner).get(detail_url(job))
    job = response.context["job"]
    assert job.state == "failed" and job.exit_code == 3
    content = response.content.decode()
    assert '<dd class="exit-code">3</dd>' in content
    assert '<dd class="used">1</dd>' in content and '<dd class="held">0</dd>' in content
    assert f'action="{cancel_url(job)}"' not in content


# The list: filters and pages


def test_it_filters_by_state_kind_and_allocation(client, owner, allocation, other_allocation, nodes):
    training = submit(owner, allocation, name="train-run")
    serving = submit(owner, allocation, name="serve-run", kind="inference")
    client = login(client, owner)
    client.post(cancel_url(training))

    def listed(query: str) -> list:
        response = client.get(f"{LIST_URL}?{query}")
        assert response.status_code == 200
        return [row["job"] for row in response.context["rows"]]

    assert listed("kind=inference") == [serving]
    assert listed("state=cancelled") == [training]
    assert listed("state=running") == []
    assert listed(f"allocation={allocation.public_id}") == [serving, training]
    assert listed("state=queued&kind=training") == []


@pytest.mark.parametrize(
    "query",
    ["state=bogus", "kind=mining", "allocation=nope", "allocation=00000000-0000-0000-0000-000000000000"],
)
def test_it_explains_invalid_filters_instead_of_failing(client, owner, allocation, nodes, query):
    submit(owner, allocation)
    response = login(client, owner).get(f"{LIST_URL}?{query}")
    assert response.status_code == 200
    assert response.context["rows"] == [] and response.context["filters"].errors
    assert shows(response, "Some filters are not valid")


def test_it_does_not_offer_other_organisations_allocations_as_filters(
    client, owner, allocation, other_allocation, nodes
):
    response = login(client, owner).get(f"{LIST_URL}?allocation={other_allocation.public_id}")
    assert "allocation" in response.context["filters"].errors


def test_it_pages_the_list_newest_first_keeping_the_filters(client, owner, allocation, nodes, monkeypatch):
    from portal.web.views import jobs as job_views

    monkeypatch.setattr(job_views, "PAGE_SIZE", 2)
    oldest, middle, newest = (submit(owner, allocation, name=f"run-{n}", gpus_per_pod=1) for n in range(3))
    submit(owner, allocation, name="serve", kind="inference", gpus_per_pod=1)
    login(client, owner)
    first = client.get(f"{LIST_URL}?kind=training")
    assert [row["job"] for row in first.context["rows"]] == [newest, middle]
    assert 'href="?kind=training&amp;page=2"' in first.content.decode()
    second = client.get(f"{LIST_URL}?kind=training&page=2")
    assert [row["job"] for row in second.context["rows"]] == [oldest]
    assert client.get(f"{LIST_URL}?kind=training&page=zzz").context["page"].number == 1


# Links from other pages


def test_it_shows_running_and_queued_jobs_on_the_home_page(client, owner, teammate, allocation, nodes):
    queued = submit(owner, allocation, name="queued-run")
    finished = submit(owner, allocation, name="cancelled-run")
    login(client, owner).post(cancel_url(finished))
    response = login(client, teammate).get(reverse("web:home"))
    assert [row["job"] for row in response.context["job_rows"]] == [queued]
    assert shows(response, "queued-run") and not shows(response, "cancelled-run")


def test_it_leaves_other_organisations_jobs_off_staffs_home_page(client, owner, staff, allocation, nodes):
    submit(owner, allocation, name="members-only")
    response = login(client, staff).get(reverse("web:home"))
    assert response.context["job_rows"] == [] and not shows(response, "members-only")


def test_it_lists_an_allocations_recent_jobs_with_a_submit_link(client, owner, staff, allocation, nodes):
    job = submit(owner, allocation, name="alloc-run")
    allocation_url = reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id})
    submit_link = f'href="{NEW_URL}?allocation={allocation.public_id}"'
    page = login(client, owner).get(allocation_url)
    assert list(page.context["recent_jobs"]) == [job]
    assert submit_link in page.content.decode() and shows(page, "alloc-run")
    staff_page = login(client, staff).get(allocation_url)
    assert list(staff_page.context["recent_jobs"]) == [job]
    assert submit_link not in staff_page.content.decode()
    allocation.status = AllocationStatus.SUSPENDED
    allocation.save()
    assert submit_link not in login(client, owner).get(allocation_url).content.decode()


def test_it_submits_a_job_by_catalogue_environment(client, owner, allocation, backend):
    from portal.environments.models import Environment
    from quotas.models import Allocation as Allocations
    from scheduler.inventory import inventory_sync
    from scheduler.models import Job

    inventory_sync(backend=backend)
    Allocations.objects.filter(pk=allocation.pk).update(allow_custom_images=False)
    Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch 2.5", image="pytorch/pytorch:2.5.1", cuda_version="12.4"
    )
    login(client, owner)
    form = client.get("/jobs/new/")
    assert shows(form, "PyTorch 2.5 — pytorch-2.5")
    values = {
        "allocation": str(allocation.public_id),
        "name": "by environment",
        "kind": "training",
        "environment_name": "pytorch-2.5",
        "command": "python\ntrain.py",
        "gpu_type": "A100",
        "gpus_per_pod": 1,
        "pods": 1,
        "max_runtime_minutes": 30,
        "priority": "normal",
    }
    response = client.post("/jobs/new/", values)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = Job.objects.get()
    assert (job.environment_name, job.image) == ("pytorch-2.5", "pytorch/pytorch:2.5.1")
    refused = client.post("/jobs/new/", {**values, "environment_name": "", "image": "python:3.11"})
    assert refused.status_code == 200 and shows(refused, "catalogue environments only")
