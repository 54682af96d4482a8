"""KubernetesBackend.logs(): rank 0's log, bounded by the API's limitBytes and tailLines."""

from tests.scheduler.backends import k8s_builders as b

NAMESPACE = f"gpugrant-{b.ORGANISATION_ID}"


def test_it_returns_the_end_of_rank_zeros_log_within_the_limit(fake_api, k8s_backend):
    k8s_backend.bind(b.spec([("gpu-a", (0,)), ("gpu-b", (0,))]))
    lines = [f"step {step:05d} loss {1 / (step + 1):.6f}\n".encode() for step in range(5000)]  # ~130 KB
    fake_api.logs[(NAMESPACE, "job-3f2a9c1e7b4d-0")] = b"".join(lines)
    fake_api.logs[(NAMESPACE, "job-3f2a9c1e7b4d-1")] = b"rank one says hello\n"

    text = k8s_backend.logs(b.JOB_ID, 1000)

    assert 0 < len(text.encode()) <= 1000
    assert text.endswith("step 04999 loss 0.000200\n")
    assert text.splitlines(keepends=True) == [line.decode() for line in lines[-len(text.splitlines()) :]]
    for request in fake_api.requests_for("get", "pods/log"):
        assert request.name == "job-3f2a9c1e7b4d-0"
        assert request.query["limitBytes"] == "1000" and int(request.query["tailLines"]) >= 1


def test_very_long_lines_narrow_the_tail_until_it_ends_at_the_logs_end(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.logs[(NAMESPACE, "job-3f2a9c1e7b4d-0")] = b"".join(
        f"{'x' * 300} {n}\n".encode() for n in range(100)
    )

    text = k8s_backend.logs(b.JOB_ID, 1000)

    assert len(text.encode()) <= 1000 and text.endswith(" 99\n")
    tails = [int(r.query["tailLines"]) for r in fake_api.requests_for("get", "pods/log")]
    assert tails == sorted(tails, reverse=True) and len(tails) > 1


def test_a_single_line_longer_than_the_limit_is_cut(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.logs[(NAMESPACE, "job-3f2a9c1e7b4d-0")] = b"y" * 5000  # a progress bar without newlines

    assert k8s_backend.logs(b.JOB_ID, 100) == "y" * 100


def test_it_returns_nothing_for_an_unknown_job_or_an_empty_log(fake_api, k8s_backend):
    assert k8s_backend.logs(b.JOB_ID, 1000) == ""
    k8s_backend.bind(b.spec())
    assert k8s_backend.logs(b.JOB_ID, 1000) == ""
    assert k8s_backend.logs(b.JOB_ID, 0) == ""


def test_a_pod_whose_container_has_not_started_has_no_log_yet(fake_api, k8s_backend):
    k8s_backend.bind(b.spec())
    fake_api.fail(
        "get", "pods/log", 400, message='container "job" in pod "job-3f2a9c1e7b4d-0" is waiting to start'
    )

    assert k8s_backend.logs(b.JOB_ID, 1000) == ""
