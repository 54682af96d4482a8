"""gpugrant submit: a spec file becomes one job, checked first, submitted at most once."""

import http.client
import http.server
import json
import threading
from urllib.parse import urlsplit

import pytest

from scheduler.cycle import run_cycle
from scheduler.models import Job

pytestmark = pytest.mark.django_db(transaction=True)


def submitted_id(result) -> str:
    return result.stdout.split("Submitted job ", 1)[1].split(" ", 1)[0]


def test_it_submits_a_spec_file_and_says_where_the_job_waits(cli, spec_file, nodes, owner, allocation):
    path = spec_file(
        "name: bert-finetune\n"
        f"allocation: {allocation.public_id}\n"
        "kind: training\n"
        "image: registry.example.kr/team/train:1.2\n"
        "command: [python, train.py, --epochs, 3]\n"
        "gpu_type: A100\n"
        "gpus_per_pod: 2\n"
        "pods: 1\n"
        "max_runtime: 1h30m\n"
        "priority: low\n"
        "env:\n"
        "  SEED: 7\n"
        "  DATA: /data/ko\n"
    )
    result = cli("submit", path)
    assert result.code == 0, result.stderr
    job = Job.objects.get()
    assert submitted_id(result) == str(job.public_id) and job.created_by == owner
    assert (job.name, job.kind, job.image, job.gpu_type, job.gpus_per_pod, job.pods) == (
        "bert-finetune",
        "training",
        "registry.example.kr/team/train:1.2",
        "A100",
        2,
        1,
    )
    assert job.command == ["python", "train.py", "--epochs", "3"]
    assert (job.max_runtime_minutes, job.priority) == (90, "low")
    assert job.environment == {"SEED": "7", "DATA": "/data/ko"}
    assert "Waiting for the first scheduling cycle." in result.stdout
    assert f"gpugrant watch {job.public_id}" in result.stdout


def test_it_shows_the_queue_position_and_estimated_start(cli, spec_file, nodes, allocation):
    first = cli("submit", spec_file(gpus_per_pod=8, name="first"))
    run_cycle(backend=nodes)  # the first takes every A100 GPU
    second = cli("submit", spec_file(gpus_per_pod=8, name="second"), "--json")
    assert first.code == second.code == 0
    assert json.loads(second.stdout)["state"] == "queued"
    run_cycle(backend=nodes)
    status = cli("status", json.loads(second.stdout)["id"])
    assert "position 1 among A100 jobs" in status.stdout and "estimated start 20" in status.stdout


def test_it_finds_the_allocation_by_its_project_title(cli, spec_file, nodes, allocation):
    result = cli("submit", spec_file(allocation="'korean llm fine-tuning'"))
    assert result.code == 0, result.stderr
    assert Job.objects.get().allocation == allocation

    unknown = cli("submit", spec_file(allocation="'Protein folding'"))
    assert unknown.code == 4 and "'Korean LLM fine-tuning'" in unknown.stderr
    assert Job.objects.count() == 1


def test_a_bad_spec_is_reported_by_line_and_nothing_is_submitted(cli, spec_file, nodes, allocation):
    path = spec_file(
        "name: bert\n"
        f"allocation: {allocation.public_id}\n"
        "image: registry.example.kr/team/train:1.2\n"
        "command: python train.py\n"
        "gpu_type: A100\n"
        "gpus_per_pod: 12\n"
        "max_runtime: soon\n"
        "gpus: 2\n"
        "env:\n"
        "  DEBUG: true\n"
    )
    result = cli("submit", path)
    assert result.code == 2 and "nothing was submitted" in result.stderr
    assert f"{path}:6: gpus_per_pod: A whole number from 1 to 8 (got 12)." in result.stderr
    assert f"{path}:7: max_runtime: A duration such as 90m" in result.stderr
    assert f"{path}:8: gpus: Unknown key; write `gpus_per_pod`" in result.stderr
    assert f"{path}:10: env.DEBUG: Give the value as text in quotes (got True)." in result.stderr
    assert "Traceback" not in result.stderr
    assert not Job.objects.exists()


def test_a_field_the_server_refuses_points_at_its_line(cli, spec_file, nodes, allocation):
    result = cli("submit", spec_file(image="Registry.Example/UPPER:1", gpu_type="B200"))
    assert result.code == 2 and "Nothing was submitted." in result.stderr
    assert "job.yaml:4: image: A container image reference" in result.stderr
    assert not Job.objects.exists()


def test_invalid_yaml_and_missing_files_are_usage_errors(cli, spec_file, nodes):
    broken = cli("submit", spec_file("name: [unclosed\nimage: x\n"))
    assert broken.code == 2 and "job.yaml:2: not valid YAML" in broken.stderr
    missing = cli("submit", "no-such.yaml")
    assert missing.code == 2 and "Cannot read no-such.yaml" in missing.stderr


def test_a_dry_run_checks_and_resolves_but_submits_nothing(cli, spec_file, nodes, allocation):
    result = cli("submit", spec_file(allocation="'Korean LLM fine-tuning'"), "--dry-run")
    assert result.code == 0 and "nothing was submitted" in result.stderr
    assert json.loads(result.stdout)["allocation"] == str(allocation.public_id)
    assert not Job.objects.exists()


def test_running_it_again_with_the_same_idempotency_key_submits_once(cli, spec_file, nodes, allocation):
    path = spec_file()
    first = cli("submit", path, "--idempotency-key", "nightly-2026-11-28")
    again = cli("submit", path, "--idempotency-key", "nightly-2026-11-28")
    assert first.code == again.code == 0 and submitted_id(first) == submitted_id(again)
    assert Job.objects.count() == 1

    path.write_text(path.read_text().replace("gpus_per_pod: 2", "gpus_per_pod: 4"))
    changed = cli("submit", path, "--idempotency-key", "nightly-2026-11-28")
    assert changed.code == 6 and "Idempotency-Key" in changed.stderr
    assert Job.objects.count() == 1


class ResponseLosingProxy(http.server.ThreadingHTTPServer):
    """Forwards to the portal, but drops the connection after forwarding the first job submission.

    The portal has then created the job and the client never heard back: what a retry must not repeat.
    """

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.submissions: list[str | None] = []
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _forward(self):
        server: ResponseLosingProxy = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = http.client.HTTPConnection(server.upstream.hostname, server.upstream.port, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        upstream.request(self.command, self.path, body=body or None, headers=headers)
        answer = upstream.getresponse()
        payload = answer.read()
        if self.command == "POST" and self.path.rstrip("/").endswith("/api/v1/jobs"):
            server.submissions.append(self.headers.get("Idempotency-Key"))
            if len(server.submissions) == 1:
                self.close_connection = True
                return  # the portal answered; the client hears nothing
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in ("connection", "transfer-encoding"):
                self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _forward


@pytest.fixture
def losing_proxy(live_server):
    proxy = ResponseLosingProxy(live_server.url)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    yield proxy
    proxy.shutdown()
    proxy.server_close()


def test_a_retry_after_a_lost_response_does_not_submit_twice(cli, signed_in, spec_file, nodes, losing_proxy):
    result = cli("submit", spec_file(), env={**signed_in, "GPUGRANT_SERVER": losing_proxy.url})
    assert result.code == 0, result.stderr
    assert len(losing_proxy.submissions) == 2 and len(set(losing_proxy.submissions)) == 1
    assert losing_proxy.submissions[0].startswith("cli-")
    assert Job.objects.count() == 1 and submitted_id(result) == str(Job.objects.get().public_id)
    assert len(result.waits) == 1  # it backed off once before the retry


def test_it_submits_by_environment_and_lists_the_catalogue(cli, spec_file, nodes, allocation):
    from portal.environments.models import Environment

    Environment.objects.create(
        name="pytorch-2.5", display_name="PyTorch 2.5", image="pytorch/pytorch:2.5.1", cuda_version="12.4"
    )
    listed = cli("environments")
    assert listed.code == 0 and "pytorch-2.5" in listed.stdout and "pytorch/pytorch:2.5.1" in listed.stdout
    result = cli("submit", spec_file(image=None, environment="pytorch-2.5"))
    assert result.code == 0, result.stderr
    job = Job.objects.get(public_id=submitted_id(result))
    assert (job.environment_name, job.image) == ("pytorch-2.5", "pytorch/pytorch:2.5.1")
    unknown = cli("submit", spec_file(image=None, environment="no-such"))
    assert unknown.code == 2 and "job.yaml:8: environment: No active environment" in unknown.stderr


def test_it_lists_the_providers_in_service(cli, staff):
    from portal.providers import services

    provider = services.provider_create(staff=staff, name="Provider A")
    services.cluster_create(
        staff=staff,
        provider=provider,
        name="a-1",
        backend="simulated",
        region="non_capital",
        gpus={"H200": 8},
    )
    listed = cli("providers")
    assert listed.code == 0, listed.stderr
    assert "Provider A" in listed.stdout and "non_capital" in listed.stdout and "H200" in listed.stdout
    assert cli("providers", "--json").stdout.count('"name": "Provider A"') == 1
