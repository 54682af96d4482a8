"""The job spec file (YAML, docs/cli.md): read it, check it with line numbers, turn it into an API request.

The checks here catch what can be known without the server (types, ranges, names, unknown keys) and
point at the line; the server stays the judge of the rest, and its field errors are pointed back at the
same lines by ``JobSpec.locate``.
"""

import difflib
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gpugrant_cli.errors import UsageError

KINDS = ("training", "inference")
PRIORITIES = ("low", "normal", "high")
REQUIRED = ("name", "allocation", "command", "gpu_type", "gpus_per_pod", "max_runtime")
# One of `environment` (a catalogue name) or `image` (where the allocation allows custom images).
OPTIONAL = ("environment", "image", "kind", "pods", "priority", "env", "provider", "region")
REGIONS = ("capital", "non_capital")
# Spec keys whose API field has another name; the rest are the same on both sides.
API_NAMES = {"env": "environment", "environment": "environment_name", "max_runtime": "max_runtime_minutes"}
HINTS = {
    "environment_name": "write `environment` (variables go under `env`).",
    "variables": "write `env`.",
    "max_runtime_minutes": "write `max_runtime: 90m`.",
    "gpus": "write `gpus_per_pod` (and `pods` for more than one pod).",
}
RUNTIME = re.compile(
    r"^(?:(?P<d>\d+)\s*d(?:ays?)?)?\s*(?:(?P<h>\d+)\s*h(?:ours?)?)?\s*(?:(?P<m>\d+)\s*m(?:in(?:utes?)?)?)?$"
)
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class JobSpec:
    source: str  # the file name, for messages
    allocation: str  # an allocation id, or its project title
    request: dict  # the API's job fields, all but the allocation
    lines: dict[str, int] = field(default_factory=dict)  # spec key (or "env.NAME") → line

    def locate(self, api_field: str) -> str:
        """``job.yaml:7: gpus_per_pod`` for an API field error such as ``gpus_per_pod`` or ``environment.X``."""
        head, _, rest = api_field.partition(".")
        key = {api: spec for spec, api in API_NAMES.items()}.get(head, head)
        name = f"{key}.{rest}" if rest else key
        line = self.lines.get(name) or self.lines.get(key)
        return f"{self.source}:{line}: {name}" if line else f"{self.source}: {name}"


class _Problems:
    def __init__(self, source: str):
        self.source = source
        self.fields: dict[str, list[str]] = {}

    def add(self, line: int | None, key: str, message: str) -> None:
        where = f"{self.source}:{line}: {key}" if line else f"{self.source}: {key}"
        self.fields.setdefault(where, []).append(message)

    def raise_any(self) -> None:
        if self.fields:
            count = sum(len(messages) for messages in self.fields.values())
            raise UsageError(
                f"{self.source} is not a valid job spec ({count} problem{'s' * (count != 1)}); nothing was submitted.",
                fields=self.fields,
                hint="The format is described in docs/cli.md.",
            )


def spec_load(path: str, text: str | None = None) -> JobSpec:
    """Read ``path`` (or ``text`` read from it already, e.g. stdin) into a checked ``JobSpec``."""
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"Cannot read {path}: {getattr(error, 'strerror', None) or error}.") from None
    values, lines = _read_yaml(path, text)
    return _check(path, values, lines)


def _read_yaml(source: str, text: str) -> tuple[dict, dict[str, int]]:
    """Top-level keys and their values, with the line of each key (and of each ``env`` entry)."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None or not isinstance(root, yaml.MappingNode):
            line = root.start_mark.line + 1 if root is not None else 1
            raise UsageError(
                f"{source}:{line}: a job spec is a mapping of keys to values, e.g. `name: my-job`.",
                hint="Examples are in docs/cli.md.",
            )
        values: dict = {}
        lines: dict[str, int] = {}
        problems = _Problems(source)
        for key_node, value_node in root.value:
            line = key_node.start_mark.line + 1
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                problems.add(line, str(key), "Keys are names such as `name` or `command`.")
                continue
            if key in values:
                problems.add(line, key, f"Given twice (first on line {lines[key]}).")
                continue
            values[key] = loader.construct_object(value_node, deep=True)
            lines[key] = line
            if key == "env" and isinstance(value_node, yaml.MappingNode):
                for name_node, _ in value_node.value:
                    lines.setdefault(f"env.{name_node.value}", name_node.start_mark.line + 1)
        problems.raise_any()
        return values, lines
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(error, "problem", None) or str(error)
        raise UsageError(f"{where}: not valid YAML: {problem}.") from None
    finally:
        loader.dispose()


def _check(source: str, values: dict, lines: dict[str, int]) -> JobSpec:
    problems = _Problems(source)

    def problem(key: str, message: str) -> None:
        problems.add(lines.get(key), key, message)

    for key in values:
        if key not in REQUIRED + OPTIONAL:
            guess = HINTS.get(key) or next(
                (f"did you mean `{m}`?" for m in difflib.get_close_matches(key, REQUIRED + OPTIONAL, 1)), ""
            )
            problem(key, f"Unknown key; {guess}" if guess else "Unknown key.")
    for key in REQUIRED:
        if values.get(key) is None:
            problems.add(None, key, "Required." if key not in values else "Required: give it a value.")

    request: dict = {"kind": values.get("kind", "training"), "pods": values.get("pods", 1)}
    request["priority"] = values.get("priority", "normal")
    if "name" in values:
        request["name"] = _text(values["name"], "name", problem, limit=100)
    if request["kind"] not in KINDS:
        problem("kind", f"Choose {' or '.join(KINDS)}.")
    if "image" in values:
        image = _text(values["image"], "image", problem, limit=300)
        if image and any(c.isspace() for c in image):
            problem("image", "An image reference has no spaces, e.g. registry.example.kr/team/train:1.2.")
        request["image"] = image
    if "environment" in values:
        request["environment_name"] = _text(values["environment"], "environment", problem, limit=64)
    if "environment" in values and "image" in values:
        problem("image", "Give `environment` (a catalogue name) or `image`, not both.")
    elif "environment" not in values and "image" not in values:
        problems.add(
            None,
            "environment",
            "Required: a catalogue environment such as pytorch-2.5-cuda12.4 (`gpugrant environments` lists "
            "them), or `image` where your allocation allows custom images.",
        )
    if "command" in values:
        request["command"] = _command(values["command"], problem)
    if "gpu_type" in values:
        request["gpu_type"] = _text(values["gpu_type"], "gpu_type", problem, limit=16)
    for key, high in (("gpus_per_pod", 8), ("pods", None)):
        if key in values and not _whole(values[key], 1, high):
            problem(key, f"A whole number from 1{f' to {high}' if high else ' up'} (got {values[key]!r}).")
    if "gpus_per_pod" in values:
        request["gpus_per_pod"] = values["gpus_per_pod"]
    if "max_runtime" in values:
        request["max_runtime_minutes"] = _minutes(values["max_runtime"], problem)
    if request["priority"] not in PRIORITIES:
        problem("priority", f"Choose {', '.join(PRIORITIES)}.")
    if "provider" in values:  # where it may run, within the allocation's pins (`gpugrant providers`)
        request["provider"] = _text(values["provider"], "provider", problem, limit=100)
    if "region" in values:
        request["region"] = values["region"]
        if values["region"] not in REGIONS:
            problem("region", f"Choose {' or '.join(REGIONS)}.")
    request["environment"] = _environment(values.get("env", {}), lines, problems)

    allocation = values.get("allocation")
    if allocation is not None and not isinstance(allocation, str):
        problem("allocation", "An allocation id, or its project title in quotes.")
    problems.raise_any()
    return JobSpec(source=source, allocation=allocation.strip(), request=request, lines=lines)


def _text(value, key: str, problem, *, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        problem(key, f"Text is expected (got {value!r}); put it in quotes if it looks like a number.")
        return ""
    if len(value) > limit:
        problem(key, f"At most {limit} characters.")
    return value.strip()


def _whole(value, low: int, high: int | None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )


def _command(value, problem) -> list[str]:
    if isinstance(value, str):
        try:
            parts = shlex.split(value)
        except ValueError as error:
            problem("command", f"Cannot split into words: {error}.")
            return []
    elif isinstance(value, list):
        parts = value
    else:
        problem("command", "A list of words, e.g. [python, train.py, --epochs, '3'], or one line of text.")
        return []
    if not parts:
        problem("command", "Give at least the program to run.")
    bad = [p for p in parts if isinstance(p, bool) or not isinstance(p, str | int | float)]
    if bad:
        problem("command", f"Each word is text or a number (not {bad[0]!r}).")
        return []
    return [str(p) for p in parts]


def _minutes(value, problem) -> int:
    if _whole(value, 1, None):
        return value
    match = RUNTIME.match(value.strip()) if isinstance(value, str) and value.strip() else None
    if match and any(match.groupdict().values()):
        days, hours, minutes = (int(match[g] or 0) for g in ("d", "h", "m"))
        total = days * 1440 + hours * 60 + minutes
        if total >= 1:
            return total
    problem("max_runtime", f"A duration such as 90m, 2h, 1h30m or 1d, or whole minutes (got {value!r}).")
    return 0


def _environment(value, lines: dict[str, int], problems: _Problems) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.add(lines.get("env"), "env", "A mapping of variable names to values, e.g. `EPOCHS: '3'`.")
        return {}
    environment = {}
    for name, raw in value.items():
        line = lines.get(f"env.{name}") or lines.get("env")
        if not isinstance(name, str) or not ENV_NAME.match(name):
            problems.add(
                line, f"env.{name}", "Variable names are letters, digits and _, not starting with a digit."
            )
        elif isinstance(raw, bool) or raw is None or not isinstance(raw, str | int | float):
            problems.add(line, f"env.{name}", f"Give the value as text in quotes (got {raw!r}).")
        else:
            environment[name] = str(raw)
    return environment
