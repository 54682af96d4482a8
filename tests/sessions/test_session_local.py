"""A session on the local backend, with real subprocesses, unsandboxed and (where bubblewrap works) in
the sandbox: it works in its owner's workspace, which outlives it; its token reaches it only through its
environment; the UNIX socket it listens on is reached from the host (where the proxy connects)."""

import socket
import uuid

import pytest

from scheduler.backends.base import SESSION_SOCKET, JobSpec, Phase, PodSpec
from tests.scheduler.backends.test_local import local, python, wait_for, wait_for_phase  # noqa: F401
from tests.scheduler.backends.test_local_sandbox import sandboxed, service_var  # noqa: F401

WORKSPACE = f"{uuid.uuid4()}/{uuid.uuid4()}"

# Stands in for JupyterLab (which this test does not need): writes a notebook, listens on the session's
# socket (named as JupyterLab's is: the placeholder in its command), answers one connection with whether
# it got the token and what the last session left, then exits.
SERVER = """
    import os, pathlib, socket, sys
    seen = pathlib.Path("notes.txt").read_text() if pathlib.Path("notes.txt").exists() else "none"
    pathlib.Path("notes.txt").write_text("written by " + os.environ["GPUGRANT_JOB_ID"])
    server = socket.socket(socket.AF_UNIX)
    server.bind(sys.argv[1])
    server.listen(1)
    connection, _ = server.accept()
    connection.sendall((str(os.environ.get("JUPYTER_TOKEN") == "t0ken-abc") + " " + seen).encode())
    connection.close()
"""


def session_spec(job_id: str) -> JobSpec:
    return JobSpec(
        job_id=job_id,
        name="session",
        organisation_id="org",
        allocation_id="alloc",
        kind="interactive",
        image="jupyter",
        # the socket's path is given the way JupyterLab's is: the placeholder in the command
        command=(*python(SERVER), SESSION_SOCKET),
        environment={},
        gpu_type="A100",
        gpus_per_pod=1,
        pods=(PodSpec("local-a100", (0,), 0),),
        max_runtime_seconds=60,
        secrets={"JUPYTER_TOKEN": "t0ken-abc"},
        workspace=WORKSPACE,
    )


def answer(path: str) -> str:
    with socket.socket(socket.AF_UNIX) as client:
        client.connect(path)
        return client.recv(200).decode()


def run_two_sessions(backend) -> tuple[list[str], str]:
    """Two sessions of one owner, one after the other: what each answered, and the first's id."""
    answers, ids = [], [f"session-{n}-{uuid.uuid4().hex[:8]}" for n in ("one", "two")]
    for job_id in ids:
        backend.bind(session_spec(job_id))
        endpoint = wait_for(lambda job_id=job_id: backend.session_endpoint(job_id), "the session's socket")
        assert len(endpoint) < 108  # a UNIX socket's path limit
        answers.append(answer(endpoint))
        wait_for_phase(backend, job_id, {Phase.SUCCEEDED})
    return answers, ids[0]


def test_a_session_keeps_its_workspace_and_gets_its_token_unsandboxed(local):  # noqa: F811
    answers, first = run_two_sessions(local)
    assert answers == ["True none", f"True written by {first}"]
    assert local.session_endpoint("never-bound") is None


@pytest.mark.sandbox
def test_a_session_keeps_its_workspace_and_gets_its_token_in_the_sandbox(sandboxed):  # noqa: F811
    # each run has a uid of its own: the notebook the first left is given to the second
    answers, first = run_two_sessions(sandboxed)
    assert answers == ["True none", f"True written by {first}"]


def test_a_workspace_key_must_be_two_ids(local):  # noqa: F811
    from scheduler.backends.base import BindError

    for key in ("../x/y", "a", "a/b/c", "/a/b"):
        with pytest.raises(BindError):
            local.workspace(key)
