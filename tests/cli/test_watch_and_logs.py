"""gpugrant watch and logs --follow: they follow a job to its end, and exit with its outcome.

Where the command would wait between polls, the test moves the job one step instead (a cycle, the
backend's phase, a reconcile): each poll then sees a known state, and no test waits on a clock.
"""

import io

import pytest

from scheduler.backends.base import Phase
from scheduler.cycle import run_cycle
from scheduler.reconcile import reconcile_jobs
from tests.cli.conftest import TerminalStream
from tests.scheduler.helpers import submit

pytestmark = pytest.mark.django_db(transaction=True)


def stepper(nodes, job, steps):
    """``between_polls`` that takes the job through ``steps`` (phases, or "cycle"), one per wait."""
    job_id = str(job.public_id)

    def step(poll: int) -> None:
        if poll > len(steps):
            raise AssertionError(f"still polling after {len(steps)} steps: the command missed the end")
        action = steps[poll - 1]
        if action == "cycle":
            run_cycle(backend=nodes)
            return
        phase, exit_code = action
        nodes.set_phase(job_id, phase, exit_code=exit_code, reason="OOMKilled" if exit_code else "")
        reconcile_jobs(backend=nodes)

    return step


def test_watch_follows_a_job_to_success_and_exits_0(cli, nodes, owner, allocation):
    job = submit(owner, allocation, gpus_per_pod=2, minutes=30)
    steps = ["cycle", (Phase.RUNNING, None), (Phase.SUCCEEDED, 0)]
    result = cli("watch", job.public_id, between_polls=stepper(nodes, job, steps))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" · ")[0] for line in lines[:-1]] == ["queued", "scheduled", "running"]
    assert "Waiting for the first scheduling cycle." in lines[0]
    assert "node-a: GPUs 0, 1" in lines[2] and "of 30 min" in lines[2]
    assert lines[-1].startswith(f"Job {job.public_id} finished successfully (ran ")
    assert "exit code 0" in lines[-1] and "\r" not in result.stdout  # plain lines off a terminal
    assert result.waits == [2.0, 2.0, 2.0]  # each poll saw a change, so the wait stayed short


def test_watch_exits_1_when_the_job_fails_and_says_why(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    steps = ["cycle", (Phase.FAILED, 3)]
    result = cli("watch", job.public_id, between_polls=stepper(nodes, job, steps))
    assert result.code == 1
    assert f"Job {job.public_id} failed: " in result.stdout and "exit code 3" in result.stdout
    assert "OOMKilled" in result.stdout


def test_watch_backs_off_while_nothing_changes(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    steps = ["cycle", (Phase.RUNNING, None), *[(Phase.RUNNING, None)] * 4, (Phase.SUCCEEDED, 0)]
    result = cli("watch", job.public_id, "--max-interval", "5", between_polls=stepper(nodes, job, steps))
    assert result.code == 0
    assert result.waits == [2.0, 2.0, 2.0, 3.0, 4.5, 5, 5]
    assert result.stdout.count("running ·") == 1  # off a terminal, the ticking clock is no new line


def test_watch_rewrites_one_line_on_a_terminal(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    terminal = TerminalStream()
    steps = ["cycle", (Phase.SUCCEEDED, 0)]
    result = cli("watch", job.public_id, stdout=terminal, between_polls=stepper(nodes, job, steps))
    assert result.code == 0
    assert result.stdout.startswith("\rqueued · ") and "\rscheduled · " in result.stdout
    assert result.stdout.endswith("GPU-hours).\n") and result.stdout.count("\n") == 1


def test_watch_of_an_ended_job_answers_at_once(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    assert cli("cancel", job.public_id).code == 0
    result = cli("watch", job.public_id)
    assert result.code == 1 and result.waits == [] and "cancelled" in result.stdout


def test_logs_prints_the_end_of_the_output(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    run_cycle(backend=nodes)
    nodes.log_text[str(job.public_id)] = "epoch 1 loss 0.9\nepoch 2 loss 0.5\n"
    assert cli("logs", job.public_id).stdout == "epoch 1 loss 0.9\nepoch 2 loss 0.5\n"
    assert cli("logs", job.public_id, "--limit-bytes", "17").stdout == "epoch 2 loss 0.5\n"


def test_logs_follow_prints_each_line_once_until_the_job_ends(cli, nodes, owner, allocation):
    job = submit(owner, allocation)
    job_id = str(job.public_id)
    run_cycle(backend=nodes)
    nodes.set_phase(job_id, Phase.RUNNING)
    reconcile_jobs(backend=nodes)
    nodes.log_text[job_id] = "epoch 1\n"

    def more_output(poll: int) -> None:
        if poll < 3:
            nodes.log_text[job_id] += f"epoch {poll + 1}\n"
        elif poll == 3:
            nodes.log_text[job_id] += "saved checkpoint"  # a last line without its newline
            nodes.set_phase(job_id, Phase.SUCCEEDED, exit_code=0)
            reconcile_jobs(backend=nodes)
        else:
            raise AssertionError("still following an ended job")

    result = cli("logs", job_id, "--follow", between_polls=more_output)
    assert result.code == 0
    assert result.stdout == "epoch 1\nepoch 2\nepoch 3\nsaved checkpoint\n"
    assert "[gpugrant] job running on node-a: GPU 0\n" in result.stderr
    assert "[gpugrant] job succeeded\n" in result.stderr and "finished successfully" in result.stderr


def test_logs_follow_keeps_up_when_the_window_slides(cli, nodes, owner, allocation, settings):
    settings.GPUGRANT_LOG_LIMIT_BYTES = 40
    job = submit(owner, allocation)
    job_id = str(job.public_id)
    run_cycle(backend=nodes)
    output = io.StringIO()
    lines = [f"line {n:02d} of the output\n" for n in range(6)]  # 23 bytes each: two fit, barely
    nodes.log_text[job_id] = lines[0]

    def one_more(poll: int) -> None:
        nodes.log_text[job_id] += lines[poll]
        if poll == len(lines) - 1:
            nodes.set_phase(job_id, Phase.FAILED, exit_code=1)
            reconcile_jobs(backend=nodes)

    result = cli("logs", job_id, "-f", stdout=output, between_polls=one_more)
    assert result.code == 1
    assert result.stdout == "".join(lines)
