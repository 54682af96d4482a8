"""``watch`` and ``logs``: following a job until it ends, polling with backoff.

Both end with the job's outcome as their exit code (0 succeeded, 1 otherwise) when they follow it to
the end, so a script can ``gpugrant watch ID && next-step``.
"""

from gpugrant_cli.api import job_path
from gpugrant_cli.describe import TERMINAL, change_key, live_text, outcome_text, placement
from gpugrant_cli.errors import ExitCode
from gpugrant_cli.output import LiveLine
from gpugrant_cli.polling import Backoff
from gpugrant_cli.runtime import Runtime


def watch(args, runtime: Runtime) -> int:
    client = runtime.client()
    line = LiveLine(runtime.stderr if args.quiet else runtime.stdout)
    backoff = Backoff(maximum_s=args.max_interval)
    last = None
    while True:
        job = client.get(job_path(args.job_id))
        now = runtime.now()
        if job.get("state") in TERMINAL:
            line.done(outcome_text(job, now))
            return _outcome(job)
        key = change_key(job)
        line.show(live_text(job, now), changed_part=str(key))
        runtime.sleep(backoff.next_wait(changed=key != last))
        last = key


def logs(args, runtime: Runtime) -> int:
    client = runtime.client()
    if not args.follow:
        runtime.stdout.write(_text(client, args))
        return ExitCode.OK
    backoff = Backoff(maximum_s=args.max_interval)
    shown, state = "", None
    while True:
        # The job first, then its logs: once it is seen ended, the logs read after it are complete.
        job = client.get(job_path(args.job_id))
        text = _text(client, args)
        new = _new_part(shown, text)
        if new:
            runtime.stdout.write(new)
            runtime.stdout.flush()
        shown = text
        if job.get("state") != state:
            state = job.get("state")
            where = f" on {placement(job)}" if state in ("scheduled", "running") and placement(job) else ""
            runtime.stderr.write(f"[gpugrant] job {state}{where}\n")
            runtime.stderr.flush()
        if state in TERMINAL:
            if shown and not shown.endswith("\n"):
                runtime.stdout.write("\n")
            runtime.stderr.write(f"[gpugrant] {outcome_text(job, runtime.now())}\n")
            return _outcome(job)
        runtime.sleep(backoff.next_wait(changed=bool(new)))


def _text(client, args) -> str:
    params = {"limit_bytes": args.limit_bytes} if args.limit_bytes else None
    return client.get(job_path(args.job_id, "logs"), params).get("text", "")


def _new_part(shown: str, text: str) -> str:
    """What ``text`` (the latest tail of the output) adds to ``shown`` (the previous tail).

    The server keeps only the end of the output, so once it is long the window slides and the latest
    tail starts part-way through the previous one: the new text follows the longest end of ``shown``
    that ``text`` starts with. Output that outran a whole window between two polls is marked skipped.
    """
    if text.startswith(shown):
        return text[len(shown) :]
    for overlap in range(min(len(shown), len(text)), 0, -1):
        if text.startswith(shown[-overlap:]):
            return text[overlap:]
    return "\n[gpugrant] … earlier output skipped …\n" + text


def _outcome(job: dict) -> int:
    return ExitCode.OK if job.get("state") == "succeeded" else ExitCode.JOB_FAILED
