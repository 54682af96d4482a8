"""The ``gpugrant`` entry point: arguments to a command, and every expected failure to a message and an exit code."""

import argparse

from gpugrant_cli import __version__
from gpugrant_cli.commands import account, environments, follow, jobs, providers, sessions, usage
from gpugrant_cli.describe import STATES
from gpugrant_cli.errors import CliError, ExitCode, UsageError
from gpugrant_cli.runtime import Runtime

EPILOG = """\
exit codes: 0 ok · 1 the job ended without succeeding (watch, logs --follow) · 2 usage error or invalid
input · 3 not logged in, key refused or not allowed · 4 not found · 5 server or network trouble ·
6 refused by the job's state (409) · 130 interrupted.
Credentials: `gpugrant login`, or GPUGRANT_SERVER and GPUGRANT_API_KEY. Job specs: docs/cli.md."""


class _Parser(argparse.ArgumentParser):
    """Argument mistakes become a UsageError, so they are reported like every other failure."""

    def error(self, message):
        raise UsageError(f"{message}.", hint=f"`{self.prog} --help` lists the options.")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gpugrant",
        description="Submit and follow GPU jobs on a gpugrant portal, and see your allocations' usage.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"gpugrant {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    login = command("login", account.login, "Check an API key against a server and remember both.")
    login.add_argument("--server", help="the portal's URL (default: GPUGRANT_SERVER, or asked)")
    login.add_argument("--key", help="an API key gg_… (default: GPUGRANT_API_KEY, or asked without echo)")
    command("logout", account.logout, "Forget the stored server and key.")

    submit = command("submit", jobs.submit, "Submit the job a spec file describes (- reads standard input).")
    submit.add_argument("spec", metavar="JOB.yaml")
    submit.add_argument(
        "--idempotency-key",
        help="submit at most once under this key, across runs (default: a new key per run, kept across retries)",
    )
    submit.add_argument("--dry-run", action="store_true", help="check the spec and print the request only")
    submit.add_argument("--json", action="store_true", help="print the submitted job as JSON")

    listing = command("jobs", jobs.jobs, "List your organisations' jobs, newest first.")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--allocation", help="an allocation id or project title")
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true")

    status = command("status", jobs.status, "A job's state, reason, placement and place in the queue.")
    status.add_argument("job_id", metavar="ID")
    status.add_argument("--json", action="store_true")

    watch = command("watch", follow.watch, "Follow a job until it ends; the exit code is its outcome.")
    watch.add_argument("job_id", metavar="ID")
    watch.add_argument("--max-interval", type=_positive, default=30, help="longest wait between polls, s")
    watch.add_argument("--quiet", action="store_true", help="progress on standard error only")

    logs = command("logs", follow.logs, "The end of a job's output.")
    logs.add_argument("job_id", metavar="ID")
    logs.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new output until the job ends"
    )
    logs.add_argument("--limit-bytes", type=_positive, help="at most this many bytes from the end")
    logs.add_argument("--max-interval", type=_positive, default=15, help="longest wait between polls, s")

    catalogue = command("environments", environments.environments, "The environments a job spec may name.")
    catalogue.add_argument("--json", action="store_true")

    suppliers = command("providers", providers.providers, "The providers whose GPUs the programme rents.")
    suppliers.add_argument("--json", action="store_true")

    cancel = command("cancel", jobs.cancel, "Cancel a job (queued: at once; running: stopped).")
    cancel.add_argument("job_id", metavar="ID")

    session = commands.add_parser(
        "session",
        help="Launch, list, follow and stop JupyterLab sessions.",
        description="JupyterLab sessions.",
    )
    session_commands = session.add_subparsers(dest="session_command", metavar="COMMAND", parser_class=_Parser)

    def session_command(name: str, handler, help_text: str) -> argparse.ArgumentParser:
        sub = session_commands.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    launch = session_command(
        "launch", sessions.launch, "Launch a JupyterLab session on an allocation's GPUs."
    )
    launch.add_argument("--allocation", required=True, help="an allocation id or project title")
    launch.add_argument("--environment", required=True, help="a catalogue environment offered for sessions")
    launch.add_argument("--gpu-type", required=True, help="a GPU type awarded to the allocation, e.g. A100")
    launch.add_argument("--gpus", type=_positive, default=1, help="how many GPUs (default 1)")
    launch.add_argument("--minutes", type=_positive, default=120, help="its time limit (default 120)")
    launch.add_argument("--json", action="store_true", help="print the launched session as JSON")
    session_list = session_command("list", sessions.sessions, "Your organisations' sessions, newest first.")
    session_list.add_argument("--limit", type=_positive, default=50, help="at most this many (default 50)")
    session_list.add_argument("--json", action="store_true")
    session_status = session_command(
        "status", sessions.status, "A session's state: its place in the queue, or the address to open."
    )
    session_status.add_argument("session_id", metavar="ID")
    session_status.add_argument("--json", action="store_true")
    session_stop = session_command("stop", sessions.stop, "Stop a session (its notebooks stay).")
    session_stop.add_argument("session_id", metavar="ID")

    report = command(
        "usage", usage.usage, "GPU-hours used and awarded per allocation and GPU type, and energy."
    )
    report.add_argument("--allocation", help="an allocation id or project title")
    report.add_argument("--status", choices=["active", "suspended", "expired"], help="only allocations in it")
    report.add_argument("--json", action="store_true")
    return parser


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1 up, not {value!r}")
    return int(value)


def main(argv: list[str] | None = None, runtime: Runtime | None = None) -> int:
    runtime = runtime or Runtime()
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "handler", None):
            build_parser().print_help(runtime.stderr)
            return ExitCode.USAGE
        return int(args.handler(args, runtime))
    except CliError as error:
        _report(runtime, error)
        return int(error.exit_code)
    except KeyboardInterrupt:
        runtime.stderr.write("\nInterrupted. A job keeps running; `gpugrant status ID` shows it.\n")
        return ExitCode.INTERRUPTED
    except SystemExit as done:  # --help and --version
        return done.code if isinstance(done.code, int) else ExitCode.OK
    except BrokenPipeError:  # `gpugrant jobs | head`
        return ExitCode.OK


def _report(runtime: Runtime, error: CliError) -> None:
    runtime.stdout.flush()
    lines = [f"gpugrant: {error.message}"]
    lines += [f"  {field}: {message}" for field, messages in error.fields.items() for message in messages]
    if error.hint:
        lines.append(error.hint)
    runtime.stderr.write("\n".join(lines) + "\n")
