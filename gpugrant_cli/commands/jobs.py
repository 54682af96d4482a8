"""``submit``, ``jobs``, ``status`` and ``cancel``: one request each, answered in plain words."""

import uuid
from datetime import UTC

from gpugrant_cli.allocations import allocation_resolve
from gpugrant_cli.api import job_path
from gpugrant_cli.describe import STATE_WORDS, gpus, queue_text, status_fields
from gpugrant_cli.errors import ExitCode, Unavailable, UsageError
from gpugrant_cli.output import parse_time, print_fields, print_json, print_table
from gpugrant_cli.runtime import Runtime
from gpugrant_cli.spec import spec_load


def submit(args, runtime: Runtime) -> int:
    if args.spec == "-":
        spec = spec_load("<stdin>", runtime.stdin.read())
    else:
        spec = spec_load(args.spec)
    client = runtime.client()
    try:
        allocation = allocation_resolve(client, spec.allocation)
    except UsageError as error:
        raise UsageError(
            error.message, fields={spec.locate("allocation"): sum(error.fields.values(), [])}
        ) from None
    request = {"allocation": allocation, **spec.request}
    if args.dry_run:
        print_json(runtime.stdout, request)
        runtime.stderr.write(f"{spec.source} is valid; nothing was submitted (--dry-run).\n")
        return ExitCode.OK

    # One key for every attempt, retries included: the server answers a repeat with the first job.
    key = args.idempotency_key or f"cli-{uuid.uuid4()}"
    try:
        job = client.post("jobs", request, idempotency_key=key)
    except UsageError as error:
        raise UsageError(
            f"The server did not accept {spec.source}: {error.message} Nothing was submitted.",
            fields={spec.locate(name): messages for name, messages in error.fields.items()},
        ) from None
    except Unavailable as error:
        command = f"gpugrant submit {args.spec} --idempotency-key {key}"
        raise Unavailable(
            error.message,
            hint=f"The job may or may not have been submitted. `{command}` submits it at most once.",
        ) from None

    if args.json:
        print_json(runtime.stdout, job)
        return ExitCode.OK
    now = runtime.now()
    out = runtime.stdout
    out.write(f"Submitted job {job['id']} ({job.get('name')}): {job.get('state')}.\n")
    if job.get("state") == "queued":
        if queue_text(job, now):
            out.write(f"Queue: {queue_text(job, now)}.\n")
        if job.get("wait_reason"):
            out.write(f"Waiting: {job['wait_reason']}\n")
    out.write(f"Follow it with: gpugrant watch {job['id']}\n")
    return ExitCode.OK


def jobs(args, runtime: Runtime) -> int:
    client = runtime.client()
    params = {"state": args.state}
    if args.allocation:
        params["allocation"] = allocation_resolve(client, args.allocation, active_only=False)
    found = list(client.get_all("jobs", params, limit=args.limit))
    if args.json:
        print_json(runtime.stdout, found)
        return ExitCode.OK
    rows = [
        [
            job["id"],
            job.get("name", ""),
            job.get("state", ""),
            gpus(job),
            f"#{job['queue_position']}" if job.get("queue_position") else "",
            _short_time(job.get("submitted_at")),
        ]
        for job in found
    ]
    print_table(
        runtime.stdout,
        ["ID", "NAME", "STATE", "GPUS", "QUEUE", "SUBMITTED (UTC)"],
        rows,
        empty="No jobs" + (" match these filters." if args.state or args.allocation else " yet."),
    )
    return ExitCode.OK


def status(args, runtime: Runtime) -> int:
    job = runtime.client().get(job_path(args.job_id))
    if args.json:
        print_json(runtime.stdout, job)
    else:
        print_fields(runtime.stdout, status_fields(job, runtime.now()))
    return ExitCode.OK


def cancel(args, runtime: Runtime) -> int:
    job = runtime.client().post(job_path(args.job_id, "cancel"))
    if job.get("state") == "cancelled":
        runtime.stdout.write(f"Cancelled job {job['id']}.\n")
    else:
        runtime.stdout.write(
            f"Stopping job {job['id']} ({STATE_WORDS.get(job.get('state'), job.get('state'))}); "
            f"it ends as cancelled once its containers stop. `gpugrant watch {job['id']}` follows it.\n"
        )
    return ExitCode.OK


def _short_time(value: str | None) -> str:
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""
