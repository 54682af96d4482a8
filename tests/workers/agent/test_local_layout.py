"""The local backend's files are named in one place, workers/local_layout.py: the backend, its runner and
the node agent all use it, so what one writes is where the other looks."""

import ast
import re
import sys
from pathlib import Path

from scheduler.backends import local_runner
from workers import local_layout

ROOT = Path(__file__).resolve().parents[3]
USERS = [
    "scheduler/backends/local.py",
    "scheduler/backends/local_runner.py",
    "scheduler/backends/local_uids.py",
    "workers/assignments.py",
]
# A file name of the layout written out in code instead of taken from it.
SPELLED_OUT = re.compile(
    r"""["'](?:runner|child|exit)-\{|rank-\{[^}]*\}\.log|["'](?:spec|stop|abort)\.json["']|/ ["']current["']"""
)


def test_the_runner_loads_the_same_layout_file_the_backend_and_agent_import():
    assert Path(local_runner.layout.__file__).resolve() == Path(local_layout.__file__).resolve()


def test_the_layout_needs_nothing_but_the_standard_library():
    """The runner loads it by path under python -I, and the agent is deployed without the portal."""
    tree = ast.parse(Path(local_layout.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= sys.stdlib_module_names


def test_no_user_spells_out_a_file_name_of_the_layout():
    for path in USERS:
        found = SPELLED_OUT.findall((ROOT / path).read_text())
        assert not found, f"{path}: {found}"


def test_paths_and_run_numbers():
    run = Path("/r/job") / local_layout.run_name(3)
    assert run.name == "run-3" and local_layout.run_number(run.name) == 3
    assert local_layout.run_number("run-x") is None and local_layout.run_number("current") is None
    assert local_layout.runner_file(run, 1).name == "runner-1.json"
    assert local_layout.exit_file(run, 1).name == "exit-1.json"
    assert local_layout.rotated(local_layout.log_file(run, 0)).name == "rank-0.log.1"


def test_the_current_run_is_read_from_current(tmp_path):
    assert local_layout.current_run(tmp_path) is None
    local_layout.write_json_atomic(tmp_path / local_layout.CURRENT, {"run": "run-2"})
    assert local_layout.current_run(tmp_path) == tmp_path / "run-2"
    (tmp_path / local_layout.CURRENT).write_text("[1]")
    assert local_layout.current_run(tmp_path) is None
