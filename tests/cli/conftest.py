"""The CLI against the real portal over real HTTP: a live server, a real API key, the scripted backend.

Commands run in-process through ``main(argv, runtime)`` with their own streams, environment and a
``sleep`` that never sleeps: where a command would wait between polls, the test decides what happens
in the meantime (typically: drive the scheduler one step), so nothing depends on timing.
"""

import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gpugrant_cli.main import main
from gpugrant_cli.runtime import Runtime
from portal.accounts.services import api_key_create
from scheduler.inventory import inventory_sync


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    waits: list[float] = field(default_factory=list)


class TerminalStream(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def no_eager_cycles(monkeypatch):
    """Only the test runs scheduling cycles, so every job is exactly where the test put it."""
    monkeypatch.setattr("scheduler.triggers.request_cycle", lambda *args, **kwargs: False)


@pytest.fixture
def nodes(backend):
    inventory_sync(backend=backend)
    return backend


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    """An environment with its own config folder and no credentials of its own."""
    return {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}


@pytest.fixture
def owner_key(owner) -> str:
    return api_key_create(user=owner, name="cli tests")[1]


@pytest.fixture
def signed_in(home, live_server, owner_key) -> dict[str, str]:
    return {**home, "GPUGRANT_SERVER": live_server.url, "GPUGRANT_API_KEY": owner_key}


@pytest.fixture
def cli(signed_in):
    """``cli("jobs", "--json")``: run a command as the owner; ``between_polls`` runs where it would wait."""

    def run(*argv, env=None, stdin="", between_polls=None, stdout=None) -> Result:
        waits: list[float] = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            if between_polls is not None:
                between_polls(len(waits))

        out, err = stdout or io.StringIO(), io.StringIO()
        runtime = Runtime(
            stdout=out,
            stderr=err,
            stdin=io.StringIO(stdin),
            environ=signed_in if env is None else env,
            sleep=sleep,
        )
        code = main([str(a) for a in argv], runtime)
        return Result(code, out.getvalue(), err.getvalue(), waits)

    return run


@pytest.fixture
def spec_file(tmp_path, allocation):
    """Write a job spec (the defaults: a valid one against ``allocation``) and return its path."""

    def write(text: str | None = None, name: str = "job.yaml", **values) -> Path:
        if text is None:
            fields = {
                "name": "bert-finetune",
                "allocation": str(allocation.public_id),
                "kind": "training",
                "image": "registry.example.kr/team/train:1.2",
                "command": "python train.py --epochs 3",
                "gpu_type": "A100",
                "gpus_per_pod": 2,
                "max_runtime": "1h",
                **values,
            }
            text = "".join(f"{key}: {value}\n" for key, value in fields.items() if value is not None)
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
