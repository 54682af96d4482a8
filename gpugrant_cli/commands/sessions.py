"""``session launch``, ``list``, ``status`` and ``stop``: JupyterLab sessions, one request each."""

from datetime import UTC

from gpugrant_cli.allocations import allocation_resolve
from gpugrant_cli.api import session_path
from gpugrant_cli.describe import STATE_WORDS, queue_text
from gpugrant_cli.errors import ExitCode, UsageError
from gpugrant_cli.output import format_time, parse_time, print_fields, print_json, print_table
from gpugrant_cli.runtime import Runtime


def _open_url(session: dict, server: str) -> str:
    """The full address the session opens at, once it runs (the server gives a path)."""
    path = session.get("url")
    return f"{server.rstrip('/')}{path}" if path else ""


def _where(session: dict, server: str, now) -> str:
    job = session.get("job", {})
    if job.get("state") == "queued":
        return queue_text(job, now)
    return _open_url(session, server)


def launch(args, runtime: Runtime) -> int:
    client = runtime.client()
    request = {
        "allocation": allocation_resolve(client, args.allocation),
        "environment_name": args.environment,
        "gpu_type": args.gpu_type,
        "gpus": args.gpus,
        "time_limit_minutes": args.minutes,
    }
    try:
        session = client.post("sessions", request)
    except UsageError as error:
        # the server's field names, said as this command's options
        options = {
            "environment_name": "--environment",
            "gpu_type": "--gpu-type",
            "time_limit_minutes": "--minutes",
        }
        raise UsageError(
            f"{error.message} Nothing was launched.",
            fields={options.get(name, f"--{name}"): messages for name, messages in error.fields.items()},
        ) from None
    if args.json:
        print_json(runtime.stdout, session)
        return ExitCode.OK
    job = session.get("job", {})
    out = runtime.stdout
    out.write(f"Launched session {session['id']}: {job.get('state')}.\n")
    if job.get("state") == "queued" and queue_text(job, runtime.now()):
        out.write(f"Queue: {queue_text(job, runtime.now())}.\n")
    out.write(f"`gpugrant session status {session['id']}` says when it opens, and where.\n")
    return ExitCode.OK


def sessions(args, runtime: Runtime) -> int:
    client = runtime.client()
    found = list(client.get_all("sessions", limit=args.limit))
    if args.json:
        print_json(runtime.stdout, found)
        return ExitCode.OK
    now = runtime.now()
    server = client.credentials.server
    rows = [
        [
            session["id"],
            session["job"].get("state", ""),
            f"{session['job'].get('gpus_per_pod')}× {session['job'].get('gpu_type')}",
            _short_time(session["job"].get("submitted_at")),
            _where(session, server, now),
        ]
        for session in found
    ]
    print_table(
        runtime.stdout,
        ["ID", "STATE", "GPUS", "LAUNCHED (UTC)", "QUEUE OR URL"],
        rows,
        empty="No sessions yet.",
    )
    return ExitCode.OK


def status(args, runtime: Runtime) -> int:
    client = runtime.client()
    session = client.get(session_path(args.session_id))
    if args.json:
        print_json(runtime.stdout, session)
        return ExitCode.OK
    job = session.get("job", {})
    state = job.get("state", "?")
    now = runtime.now()
    print_fields(
        runtime.stdout,
        [
            ("session", session.get("id", "")),
            ("state", state if STATE_WORDS.get(state, state) == state else f"{state}: {STATE_WORDS[state]}"),
            ("reason", job.get("state_reason") or ""),
            ("queue", queue_text(job, now) if state == "queued" else ""),
            ("waiting", (job.get("wait_reason") or "") if state == "queued" else ""),
            ("open", _open_url(session, client.credentials.server)),
            ("gpus", f"{job.get('gpus_per_pod')}× {job.get('gpu_type')}"),
            ("time limit", f"{job.get('max_runtime_minutes')} min"),
            ("idle limit", f"{session.get('idle_limit_minutes')} min"),
            ("launched", format_time(parse_time(job.get("submitted_at")), now)),
        ],
    )
    if state == "running" and not session.get("url"):
        runtime.stdout.write("JupyterLab is starting; ask again in a moment for the address.\n")
    return ExitCode.OK


def stop(args, runtime: Runtime) -> int:
    session = runtime.client().post(session_path(args.session_id, "stop"))
    state = session.get("job", {}).get("state")
    if state == "cancelled":
        runtime.stdout.write(f"Stopped session {session['id']}; its notebooks stay in your workspace.\n")
    else:
        runtime.stdout.write(
            f"Stopping session {session['id']} ({STATE_WORDS.get(state, state)}); "
            "its notebooks stay in your workspace.\n"
        )
    return ExitCode.OK


def _short_time(value: str | None) -> str:
    moment = parse_time(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else ""
