"""Migration 0005 reads the sentences gpugrant stored before into codes and parameters, once."""

import importlib

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from scheduler.cycle import run_cycle
from scheduler.models import Job, JobEvent
from scheduler.reasons import Reason
from tests.scheduler.helpers import submit

MIGRATION = importlib.import_module("scheduler.migrations.0005_reasons_as_data")
BEFORE, AFTER = ("scheduler", "0004_job_environment_name"), ("scheduler", "0005_reasons_as_data")

# a sentence stored before → (code, params)
OLD = {
    "accepted; waiting for GPUs": ("accepted", {}),
    "placed on node-a GPUs 0,1, node-b GPUs 2": ("placed", {"where": "node-a GPUs 0,1, node-b GPUs 2"}),
    "running": ("running", {}),
    "finished successfully (exit code 0)": ("succeeded", {"exit_code": 0}),
    "failed (exit code 3)": ("failed", {"exit_code": 3}),
    "failed (exit code -9): OOMKilled": ("failed_with_detail", {"exit_code": -9, "detail": "OOMKilled"}),
    "failed (no exit code)": ("failed_no_exit_code", {}),
    "failed (no exit code): pod p-0: Evicted: low memory": (
        "failed_no_exit_code_with_detail",
        {"detail": "pod p-0: Evicted: low memory"},
    ),
    "stopped after its max_runtime of 60 minutes": ("timed_out", {"minutes": 60}),
    "stopped: it ran past its max_runtime": ("ran_past_max_runtime", {}),
    "cancelled; its pods were stopped": ("cancelled", {}),
    "cancelled by kim@example.test before it started": (
        "cancelled_before_start",
        {"email": "kim@example.test"},
    ),
    "cancel requested by kim@example.test; stopping": ("cancel_requested", {"email": "kim@example.test"}),
    "preempted for a job that waited longer": ("preempted", {}),
    "preempted (low priority) for a job waiting longer": ("preempting_low_priority", {}),
    "preempted (low priority) for a job waiting longer; stopping": ("preempting_low_priority_stopping", {}),
    "preempted (its allocation runs beyond its fair share) for a job waiting longer": (
        "preempting_over_share",
        {},
    ),
    "preempted (its allocation runs beyond its fair share) for a job waiting longer; stopping": (
        "preempting_over_share_stopping",
        {},
    ),
    "requeued after preemption; keeps its place by submission time": ("requeued_after_preemption", {}),
    "requeued after its node was lost (attempt 2)": ("requeued_after_lost", {"attempt": 2}),
    "stopped: the allocation's GPU-hours ran out": ("exhausted", {}),
    "stopping: the allocation's H100 GPU-hours are used up": ("exhausting", {"gpu_type": "H100"}),
    "stopped by gpugrant: its GPUs stayed idle (allocation policy)": ("idle_stopped", {}),
    "warning: its GPUs have been idle for 30 minutes": ("idle_warning", {"minutes": 30}),
    "stopping: its GPUs were idle for 60 minutes": ("idle_stopping", {"minutes": 60}),
    "stopped: its allocation is no longer active": ("inactive_stopped", {}),
    "stopping: its allocation is no longer active": ("inactive_stopping", {}),
    "its allocation's period has ended": ("allocation_ended", {}),
    "lost: its node or pods vanished": ("lost_node_or_pods_vanished", {}),
    "lost: its pods vanished": ("lost_pods_vanished", {}),
    "lost: stopped outside gpugrant": ("lost_stopped_outside", {}),
    "lost: its node is no longer reported by the cluster": ("lost_node_gone", {}),
    "lost: node node-3 was removed": ("lost", {"detail": "node node-3 was removed"}),
    "lost 3 times; giving up": ("lost_too_often", {"times": 3}),
    "could not be started (lost: its pods vanished); requeued": (
        "start_failed_requeued",
        {"detail": "lost: its pods vanished"},
    ),
    "could not be started 4 times; last error: no such image": (
        "start_failed_gave_up",
        {"times": 4, "detail": "no such image"},
    ),
    "ImagePullBackOff: no such image": ("text", {"text": "ImagePullBackOff: no such image"}),
    "failed (exit code three)": ("text", {"text": "failed (exit code three)"}),
}


@pytest.mark.parametrize("sentence", OLD)
def test_each_old_sentence_becomes_a_code_that_renders_it_again(sentence):
    code, params = OLD[sentence]
    assert MIGRATION.code_and_params(sentence) == (code, params)
    assert Reason(code, params).english() == sentence  # the English text columns stay as they were


def test_no_reason_stays_no_reason():
    assert MIGRATION.code_and_params("") == ("", {})


@pytest.mark.django_db
def test_it_converts_the_rows_of_jobs_and_events(backend, owner, allocation):
    from scheduler.inventory import inventory_sync

    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    old = "lost: node node-3 was removed"
    Job.objects.filter(pk=job.pk).update(state_reason=old, state_reason_code="", state_reason_params={})
    JobEvent.objects.filter(job=job).update(reason_code="", reason_params={})
    MIGRATION.convert(apps, None)
    job.refresh_from_db()
    assert (job.state_reason_code, job.state_reason_params) == ("lost", {"detail": "node node-3 was removed"})
    assert job.state_reason == old
    assert [(e.reason_code, e.reason) for e in job.events.all()] == [
        ("accepted", "accepted; waiting for GPUs")
    ]


@pytest.mark.django_db(transaction=True)
def test_it_migrates_back_and_forth_keeping_the_english(backend, owner, allocation):
    from scheduler.inventory import inventory_sync

    inventory_sync(backend=backend)
    job = submit(owner, allocation)
    run_cycle()  # places it: the "placed" event
    Job.objects.filter(pk=job.pk).update(state_reason="stopped: it ran past its max_runtime")
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    executor.loader.build_graph()
    executor.migrate([AFTER])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())  # the later migrations, so the models load
    job.refresh_from_db()
    assert (job.state_reason_code, job.state_reason) == (
        "ran_past_max_runtime",
        "stopped: it ran past its max_runtime",
    )
    events = list(job.events.values_list("reason_code", "reason"))
    assert events[:2] == [("accepted", "accepted; waiting for GPUs"), ("placed", "placed on node-a GPUs 0")]
