"""What can go wrong in a command, and the exit code each kind of failure ends the process with."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    JOB_FAILED = 1  # watch / logs --follow: the job ended without succeeding
    USAGE = 2  # bad arguments, an invalid job spec, or input the server rejected (400)
    AUTH = 3  # not logged in, a refused or revoked key (401), or not allowed (403)
    NOT_FOUND = 4  # no such job or allocation, or another organisation's (404)
    UNAVAILABLE = 5  # cannot reach the server, a timeout, a 5xx, or still throttled after retries
    REFUSED = 6  # the object's state forbids it (409): cancelling a finished job, budget exceeded, ...
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """An expected failure: shown as its message and field errors, never as a traceback."""

    exit_code = ExitCode.USAGE

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.hint = hint


class UsageError(CliError):
    exit_code = ExitCode.USAGE


class AuthError(CliError):
    exit_code = ExitCode.AUTH


class NotFoundError(CliError):
    exit_code = ExitCode.NOT_FOUND


class Unavailable(CliError):
    exit_code = ExitCode.UNAVAILABLE


class Refused(CliError):
    exit_code = ExitCode.REFUSED
