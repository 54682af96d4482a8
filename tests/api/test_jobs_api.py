import threading

import pytest
from django.db import connection

from quotas.models import AllocationBudget
from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.inventory import inventory_sync
from scheduler.models import Job, JobEvent, SubmissionKey
from scheduler.reconcile import reconcile_jobs

pytestmark = pytest.mark.django_db


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


def body(the_allocation, **overrides):
    data = {
        "allocation": str(the_allocation.public_id),
        "name": "bert-finetune",
        "kind": "training",
        "image": "registry.example.kr/team/train:1.2",
        "command": ["python", "train.py", "--epochs", "3"],
        "environment": {"SEED": "7"},
        "gpu_type": "A100",
        "gpus_per_pod": 2,
        "max_runtime_minutes": 60,
    }
    data.update(overrides)
    return data


def held(allocation, gpu_type="A100"):
    return AllocationBudget.objects.get(allocation=allocation, gpu_type=gpu_type).held_gpu_seconds


def test_it_accepts_a_job_and_holds_its_gpu_hours(client_for, owner, allocation, nodes):
    response = client_for(owner).post("/api/v1/jobs", body(allocation), format="json")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["state"] == "queued" and job["pods"] == 1 and job["priority"] == "normal"
    assert job["held_gpu_hours"] == 2.0 and held(allocation) == 2 * 60 * 60
    assert job["submitted_by"] == owner.email
    assert [
        e["to_state"] for e in client_for(owner).get(f"/api/v1/jobs/{job['id']}/events").json()["results"]
    ] == ["queued"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"kind": "mining"}, "kind"),
        ({"image": "Not An Image!"}, "image"),
        ({"command": []}, "command"),
        ({"command": "python train.py"}, "command"),
        ({"environment": {"1BAD": "x"}}, "environment"),
        ({"environment": {"CUDA_VISIBLE_DEVICES": "0"}}, "environment"),
        ({"gpus_per_pod": 0}, "gpus_per_pod"),
        ({"gpus_per_pod": 9}, "gpus_per_pod"),
        ({"pods": 0}, "pods"),
        ({"max_runtime_minutes": 0}, "max_runtime_minutes"),
        ({"max_runtime_minutes": 10**7}, "max_runtime_minutes"),
        ({"priority": "urgent"}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"gpu_type": "V100"}, "gpu_type"),
        ({"gpus_per_pod": 8, "pods": 3}, "pods"),  # 24 GPUs > the allocation's cap of 16
        ({"gpus_per_pod": 8, "pods": 2}, "pods"),  # the cluster has one 8-GPU A100 node
        ({"allocation": "00000000-0000-0000-0000-000000000000"}, "allocation"),
    ],
)
def test_it_refuses_bad_jobs_field_by_field_and_writes_nothing(
    client_for, owner, allocation, nodes, overrides, field
):
    api = client_for(owner)
    before = (Job.objects.count(), JobEvent.objects.count(), held(allocation))
    data = body(allocation, **overrides)
    response = api.post("/api/v1/jobs", data, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["extra"]["fields"], response.json()
    assert (Job.objects.count(), JobEvent.objects.count(), held(allocation)) == before


def test_it_refuses_a_job_above_the_remaining_budget(client_for, owner, allocation, nodes):
    AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(
        used_gpu_seconds=2000 * 3600 - 3600
    )
    response = client_for(owner).post("/api/v1/jobs", body(allocation, max_runtime_minutes=60), format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "budget_exceeded"
    assert "max_runtime_minutes" in response.json()["extra"]["fields"]
    assert not Job.objects.exists() and held(allocation) == 0


@pytest.mark.parametrize("status", ["suspended", "expired"])
def test_it_refuses_jobs_on_inactive_allocations(client_for, owner, allocation, nodes, status):
    allocation.status = status
    allocation.save()
    response = client_for(owner).post("/api/v1/jobs", body(allocation), format="json")
    assert response.status_code == 400 and "allocation" in response.json()["extra"]["fields"]


def test_it_refuses_another_organisations_allocation(client_for, outsider, allocation, nodes):
    response = client_for(outsider).post("/api/v1/jobs", body(allocation), format="json")
    assert response.status_code == 400 and "allocation" in response.json()["extra"]["fields"]
    assert not Job.objects.exists()


def test_it_returns_the_first_response_for_a_retried_idempotency_key(client_for, owner, allocation, nodes):
    api = client_for(owner)
    first = api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    second = api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert Job.objects.count() == 1 and held(allocation) == 2 * 3600
    reused = api.post(
        "/api/v1/jobs", body(allocation, name="other"), format="json", HTTP_IDEMPOTENCY_KEY="abc-1"
    )
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert (
        api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="abc-2").status_code
        == 201
    )
    assert Job.objects.count() == 2


@pytest.mark.parametrize("since", ["budget spent", "allocation suspended"])
def test_a_retry_gets_its_first_answer_even_if_the_job_could_not_be_admitted_now(
    client_for, owner, allocation, nodes, since
):
    api = client_for(owner)
    first = api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert first.status_code == 201
    if since == "budget spent":
        AllocationBudget.objects.filter(allocation=allocation, gpu_type="A100").update(awarded_gpu_hours=2)
    else:
        allocation.status = "suspended"
        allocation.save()
    assert api.post("/api/v1/jobs", body(allocation), format="json").status_code in (400, 409)
    retry = api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    assert (retry.status_code, retry.json()) == (201, first.json())
    reused = api.post(
        "/api/v1/jobs", body(allocation, name="other"), format="json", HTTP_IDEMPOTENCY_KEY="r-1"
    )
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert Job.objects.count() == 1 and held(allocation) == 2 * 3600


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_creates_one_job_for_concurrent_retries_with_one_key(client_for, owner, allocation, nodes):
    clients = [client_for(owner) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    responses = []

    def send(api):
        barrier.wait()
        try:
            responses.append(
                api.post("/api/v1/jobs", body(allocation), format="json", HTTP_IDEMPOTENCY_KEY="same")
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(api,)) for api in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    assert Job.objects.count() == 1 and SubmissionKey.objects.count() == 1 and held(allocation) == 2 * 3600


def test_it_lists_with_filters_and_hides_other_organisations(client_for, owner, outsider, allocation, nodes):
    api = client_for(owner)
    training = api.post("/api/v1/jobs", body(allocation), format="json").json()
    inference = api.post(
        "/api/v1/jobs", body(allocation, kind="inference", name="serve"), format="json"
    ).json()
    assert [j["id"] for j in api.get("/api/v1/jobs?kind=inference").json()["results"]] == [inference["id"]]
    assert api.get("/api/v1/jobs?state=running").json()["count"] == 0
    assert api.get(f"/api/v1/jobs?allocation={allocation.public_id}").json()["count"] == 2
    assert api.get("/api/v1/jobs?state=bogus").status_code == 400
    assert api.get("/api/v1/jobs?allocation=nope").status_code == 400
    other = client_for(outsider)
    assert other.get("/api/v1/jobs").json()["count"] == 0
    for suffix in ("", "/events", "/logs"):
        assert other.get(f"/api/v1/jobs/{training['id']}{suffix}").status_code == 404
    assert other.post(f"/api/v1/jobs/{training['id']}/cancel").status_code == 404
    assert Job.objects.get(public_id=training["id"]).state == "queued"


def test_it_shows_queue_position_estimated_start_and_placement(client_for, owner, allocation, nodes):
    api = client_for(owner)
    first = api.post("/api/v1/jobs", body(allocation, gpus_per_pod=8), format="json").json()
    second = api.post("/api/v1/jobs", body(allocation, gpus_per_pod=8, name="second"), format="json").json()
    run_cycle(backend=nodes)
    running = api.get(f"/api/v1/jobs/{first['id']}").json()
    assert running["state"] == "scheduled" and running["placement"] == [
        {"node": "node-a", "gpus": list(range(8))}
    ]
    waiting = api.get(f"/api/v1/jobs/{second['id']}").json()
    assert waiting["queue_position"] == 1
    assert waiting["estimated_start"] is not None and "reserved" in waiting["wait_reason"]


def test_it_cancels_in_every_state(client_for, owner, allocation, nodes, django_capture_on_commit_callbacks):
    api = client_for(owner)
    queued = api.post("/api/v1/jobs", body(allocation), format="json").json()
    cancelled = api.post(f"/api/v1/jobs/{queued['id']}/cancel").json()
    assert cancelled["state"] == "cancelled" and held(allocation) == 0

    running = api.post("/api/v1/jobs", body(allocation), format="json").json()
    run_cycle(backend=nodes)
    nodes.set_phase(running["id"], Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/api/v1/jobs/{running['id']}/cancel")
    response = api.get(f"/api/v1/jobs/{running['id']}").json()
    assert (running["id"], "cancelled") in nodes.stopped
    assert response["state"] == "cancelled"  # stopped by the backend after commit, then reconciled
    assert held(allocation) == 0
    reasons = [e["reason"] for e in api.get(f"/api/v1/jobs/{running['id']}/events").json()["results"]]
    assert any("cancel requested" in r for r in reasons) and reasons[-1].startswith("cancelled")

    again = api.post(f"/api/v1/jobs/{running['id']}/cancel")
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"


def test_it_cancels_a_scheduled_job_through_the_backend(
    client_for, owner, allocation, nodes, django_capture_on_commit_callbacks
):
    api = client_for(owner)
    job = api.post("/api/v1/jobs", body(allocation), format="json").json()
    run_cycle(backend=nodes)
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "scheduled"
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(f"/api/v1/jobs/{job['id']}/cancel").status_code == 200
    assert (job["id"], "cancelled") in nodes.stopped
    assert api.get(f"/api/v1/jobs/{job['id']}").json()["state"] == "cancelled"
    assert held(allocation) == 0


def test_it_serves_bounded_logs(client_for, owner, allocation, nodes):
    api = client_for(owner)
    job = api.post("/api/v1/jobs", body(allocation), format="json").json()
    assert api.get(f"/api/v1/jobs/{job['id']}/logs").json()["text"] == ""
    run_cycle(backend=nodes)
    nodes.log_text[job["id"]] = "epoch 1\n" * 1000 + "done\n"
    tail = api.get(f"/api/v1/jobs/{job['id']}/logs?limit_bytes=5").json()
    assert tail["text"] == "done\n" and tail["limit_bytes"] == 5
    assert api.get(f"/api/v1/jobs/{job['id']}/logs?limit_bytes=0").status_code == 400
    assert api.get(f"/api/v1/jobs/{job['id']}/logs?limit_bytes=abc").status_code == 400


def test_listing_reads_the_queue_once_however_many_jobs_wait(
    client_for, owner, allocation, nodes, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = client_for(owner)

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get("/api/v1/jobs").status_code == 200
        return len(captured)

    for i in range(2):
        api.post("/api/v1/jobs", body(allocation, gpus_per_pod=8, name=f"a{i}"), format="json")
    run_cycle(backend=nodes)
    few = queries_for_list()
    for i in range(8):
        api.post("/api/v1/jobs", body(allocation, gpus_per_pod=8, name=f"b{i}"), format="json")
    run_cycle(backend=nodes)
    assert queries_for_list() == few
