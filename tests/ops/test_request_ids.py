"""Request ids in responses and log lines; job ids in the scheduler's log lines; JSON logs."""

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from scheduler.cycle import run_cycle
from tests.scheduler.helpers import submit
from workers import logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    """Log lines as the production handler writes them (context filter + JSON formatter), parsed."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous)


def test_a_well_formed_incoming_request_id_is_echoed_and_logged(client, json_lines):
    response = client.get("/api/v1/jobs", HTTP_X_REQUEST_ID="ingress-7f3a.42")
    assert response.status_code == 401
    assert response["X-Request-ID"] == "ingress-7f3a.42"
    access = [line for line in json_lines() if line["logger"] == "gpugrant.access"]
    assert access[-1]["request_id"] == "ingress-7f3a.42"
    assert (
        access[-1]["route"] == "api/v1/jobs" and access[-1]["status"] == 401 and access[-1]["method"] == "GET"
    )


@pytest.mark.parametrize("incoming", [None, "", "has spaces", "x" * 129, "line\nbreak", "<script>"])
def test_a_missing_or_malformed_request_id_is_replaced(client, incoming):
    headers = {} if incoming is None else {"HTTP_X_REQUEST_ID": incoming}
    given = client.get("/healthz/live", **headers)["X-Request-ID"]
    assert given != incoming and len(given) == 32 and int(given, 16) >= 0
    assert client.get("/healthz/live", **headers)["X-Request-ID"] != given  # one per request


def test_log_lines_inside_a_request_carry_its_id(client, json_lines):
    client.get("/api/v1/jobs/00000000-0000-4000-8000-000000000000", HTTP_X_REQUEST_ID="req-404")
    lines = [line for line in json_lines() if line.get("request_id") == "req-404"]
    assert {line["logger"] for line in lines} >= {"django.request", "gpugrant.access"}
    assert logs.request_id.get() == ""  # and the id does not outlive the request


def test_scheduler_log_lines_carry_the_job_id(cluster, owner, allocation, json_lines):
    job = submit(owner, allocation)
    cluster.fail_binds.add(str(job.public_id))
    run_cycle(backend=cluster)
    failures = [line for line in json_lines() if "bind of job" in line["message"]]
    assert failures and failures[0]["job_id"] == str(job.public_id) and failures[0]["level"] == "WARNING"
    assert logs.job_id.get() == ""


def test_text_lines_name_the_ids_and_exceptions_stay_readable_in_json():
    record = logging.LogRecord("gpugrant.test", logging.ERROR, __file__, 1, "failed %s", ("x",), None)
    with logs.job_context("job-1"):
        logs.ContextFilter().filter(record)
    assert "[request= job=job-1] failed x" in logs.TextFormatter().format(record)
    try:
        raise ValueError("boom")
    except ValueError:
        record.exc_info = sys.exc_info()
    line = json.loads(logs.JsonFormatter().format(record))
    assert line["job_id"] == "job-1" and "ValueError: boom" in line["exception"]


def test_production_logs_json_and_the_demo_text():
    program = (
        "import django; django.setup(); from django.conf import settings; print(settings.GPUGRANT_LOG_FORMAT)"
    )
    environment = {k: v for k, v in os.environ.items() if k != "GPUGRANT_LOG_FORMAT"}
    production = {
        **environment,
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": "k" * 30 + "abcdefghijklmnopqrstuvwxyz",
        "GPUGRANT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "gpugrant.example.kr",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    demo = {**environment, "GPUGRANT_ENV": "demo", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    for env, expected in ((production, "json"), (demo, "text")):
        out = subprocess.run(
            [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected


def test_a_celery_task_logs_under_its_task_id_and_gives_the_ids_back(json_lines):
    from celery.signals import task_postrun, task_prerun

    outer = logs.request_id.set("the-request")
    try:
        task_prerun.send(sender=None, task_id="task-1", task=None)
        logging.getLogger("gpugrant.test").info("inside the task")
        task_postrun.send(sender=None, task_id="task-1", task=None)
        logging.getLogger("gpugrant.test").info("after the task")
    finally:
        logs.request_id.reset(outer)
    lines = {
        line["message"]: line.get("request_id") for line in json_lines() if line["logger"] == "gpugrant.test"
    }
    assert lines == {"inside the task": "task-1", "after the task": "the-request"}
