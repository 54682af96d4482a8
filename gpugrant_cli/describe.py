"""A job from the API in plain words: its state, why it waits, where it runs, how long it has run."""

from datetime import datetime

from gpugrant_cli.output import format_duration, format_hours, format_time, parse_time

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "timed_out", "exhausted"})
STATES = (
    "queued",
    "scheduled",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "preempted",
    "timed_out",
    "exhausted",
    "lost",
)
STATE_WORDS = {
    "queued": "waiting in the queue",
    "scheduled": "starting: GPUs assigned, the containers are being started",
    "running": "running",
    "succeeded": "finished successfully",
    "failed": "failed",
    "cancelled": "cancelled",
    "preempted": "preempted: making room for other work, going back to the queue",
    "timed_out": "stopped: it reached its maximum runtime",
    "exhausted": "stopped: the allocation's GPU-hours ran out",
    "lost": "lost its node: it will be queued again or failed",
}


def gpus(job: dict) -> str:
    pods = job.get("pods") or 1
    per_pod = f"{job.get('gpus_per_pod')}× {job.get('gpu_type')}"
    return per_pod if pods == 1 else f"{pods} pods × {per_pod}"


def cluster(job: dict) -> str:
    """Where its current or last run was placed: ``seoul-a (provider KT Cloud, capital)``."""
    where = job.get("cluster")
    if not where:
        return ""
    return f"{where.get('name')} (provider {where.get('provider')}, {where.get('region')})"


def placement(job: dict) -> str:
    return "; ".join(
        f"{pod.get('node')}: GPU{'s' * (len(pod.get('gpus', [])) != 1)} {', '.join(map(str, pod.get('gpus', [])))}"
        for pod in job.get("placement") or []
    )


def elapsed_s(job: dict, now: datetime) -> float | None:
    started = parse_time(job.get("started_at")) or parse_time(job.get("scheduled_at"))
    if started is None:
        return None
    finished = parse_time(job.get("finished_at")) or now
    return max((finished - started).total_seconds(), 0.0)


def runtime_progress(job: dict, now: datetime) -> str:
    """``12 min of 60 min (20 %)``: how much of its maximum runtime the job has used."""
    elapsed = elapsed_s(job, now)
    if elapsed is None:
        return ""
    limit_s = (job.get("max_runtime_minutes") or 0) * 60
    if not limit_s:
        return format_duration(elapsed)
    return (
        f"{format_duration(elapsed)} of {format_duration(limit_s)} ({min(elapsed / limit_s, 1) * 100:.0f} %)"
    )


def queue_text(job: dict, now: datetime) -> str:
    parts = []
    if job.get("queue_position"):
        parts.append(f"position {job['queue_position']} among {job.get('gpu_type')} jobs")
    start = format_time(parse_time(job.get("estimated_start")), now)
    if start:
        parts.append(f"estimated start {start}")
    return ", ".join(parts)


def live_text(job: dict, now: datetime) -> str:
    """The one line ``watch`` keeps up to date."""
    state = job.get("state", "?")
    if state == "queued":
        parts = [queue_text(job, now), job.get("wait_reason") or ""]
    elif state in ("scheduled", "running"):
        parts = [runtime_progress(job, now), placement(job)]
    else:
        parts = [job.get("state_reason") or ""]
    return " · ".join([state, *(p for p in parts if p)])


def change_key(job: dict) -> tuple:
    """What, having changed, is worth a new line off a terminal (not the ticking elapsed time)."""
    return (job.get("state"), job.get("queue_position"), job.get("wait_reason"), job.get("state_reason"))


def outcome_text(job: dict, now: datetime) -> str:
    state = job.get("state")
    summary = f"Job {job.get('id')} {STATE_WORDS.get(state, state)}"
    reason = job.get("state_reason") or ""
    if reason.startswith(state or "?"):  # "cancelled; its pods were stopped" after "cancelled"
        reason = reason[len(state) :].lstrip(";:,. ")
    if reason and state != "succeeded":
        summary += f": {reason}"
    details = []
    elapsed = elapsed_s(job, now)
    if elapsed is not None:
        details.append(f"ran {format_duration(elapsed)}")
    if job.get("exit_code") is not None:
        details.append(f"exit code {job['exit_code']}")
    details.append(f"{format_hours(job.get('used_gpu_hours'))} GPU-hours")
    return f"{summary} ({', '.join(details)})."


def status_fields(job: dict, now: datetime) -> list[tuple[str, str]]:
    state = job.get("state", "?")
    queued = state == "queued"
    return [
        ("job", f"{job.get('id')}  {job.get('name')} ({job.get('kind')}, {job.get('priority')} priority)"),
        ("state", state if STATE_WORDS.get(state, state) == state else f"{state}: {STATE_WORDS[state]}"),
        ("reason", job.get("state_reason") or ""),
        ("queue", queue_text(job, now) if queued else ""),
        ("waiting", (job.get("wait_reason") or "") if queued else ""),
        ("allocation", job.get("allocation") or ""),
        ("gpus", gpus(job)),
        ("placement", placement(job)),
        ("cluster", cluster(job)),
        ("pinned to", ", ".join(filter(None, (job.get("provider"), job.get("region"))))),
        ("image", job.get("image") or ""),
        (
            "runtime",
            runtime_progress(job, now)
            or f"at most {format_duration((job.get('max_runtime_minutes') or 0) * 60)}",
        ),
        ("submitted", format_time(parse_time(job.get("submitted_at")), now)),
        ("started", format_time(parse_time(job.get("started_at")), now)),
        ("finished", format_time(parse_time(job.get("finished_at")), now)),
        ("exit code", "" if job.get("exit_code") is None else str(job["exit_code"])),
        ("requeued", f"{job['requeues']} time(s)" if job.get("requeues") else ""),
        (
            "used",
            f"{format_hours(job.get('used_gpu_hours'))} GPU-hours, {job.get('energy_kwh') or 0:.3f} kWh",
        ),
        ("held", f"{format_hours(job.get('held_gpu_hours'))} GPU-hours" if job.get("held_gpu_hours") else ""),
        (
            "idle since",
            format_time(parse_time(job.get("idle_since")), now) if state in ("scheduled", "running") else "",
        ),
    ]
