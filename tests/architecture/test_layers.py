"""The package layers of docs/architecture.md, checked on every test run.

import-linter's contracts live in pyproject.toml ([tool.importlinter]); `lint-imports` runs the same
check by hand. These tests also make sure the contracts cannot quietly stop covering code: every
product module sits in a layer, and no product import hides inside a function.
"""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "quotas", "scheduler", "workers", "gpugrant_cli")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if "migrations" in parts:
                continue  # generated; they import models by app label through the registry
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def test_the_import_contracts_hold():
    # In its own process: import-linter's command configures logging (dictConfig), which would silence
    # every logger of the test run after it.
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(linter), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_product_module_belongs_to_one_layer_or_stands_apart():
    contract = next(c for c in CONFIG["contracts"] if c["id"] == "layers")
    layers = [name.strip() for layer in contract["layers"] for name in layer.split(":")]
    apart = {"gpugrant_cli"}  # the client: its own contract, nothing imports it
    uncovered, doubly = [], []
    for module in product_modules():
        if module == "portal" or module.split(".")[0] in apart:
            continue  # the package itself only loads the Celery app (Django's convention)
        homes = [layer for layer in layers if module == layer or module.startswith(layer + ".")]
        if not homes:
            uncovered.append(module)
        elif len(homes) > 1:
            doubly.append(module)
    assert uncovered == [] and doubly == []


def _imports_inside_functions(path: Path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()

    def walk(node, function=None, in_app_config=False):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                app_config = any(
                    getattr(base, "id", getattr(base, "attr", "")) == "AppConfig" for base in child.bases
                )
                yield from walk(child, function, app_config)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield from walk(child, child, in_app_config)
            elif isinstance(child, ast.Import | ast.ImportFrom) and function is not None:
                names = (
                    [alias.name for alias in child.names]
                    if isinstance(child, ast.Import)
                    else [child.module or ""]
                )
                if getattr(child, "level", 0) or any(name.split(".")[0] in PACKAGES for name in names):
                    yield child.lineno, function.name, in_app_config, lines[child.lineno - 1]
            else:
                yield from walk(child, function, in_app_config)

    yield from walk(tree)


def test_no_product_import_is_placed_inside_a_function():
    """Only where Django requires it (AppConfig.ready) or for an optional heavy dependency, said so."""
    hidden = [
        f"{path.relative_to(ROOT)}:{line} in {function}()"
        for path in product_modules().values()
        for line, function, in_app_config, text in _imports_inside_functions(path)
        if not (in_app_config and function == "ready") and "is optional" not in text
    ]
    assert hidden == []


@pytest.mark.parametrize(
    "source, expected",
    [
        ("def f():\n    from scheduler import cycle\n", 1),
        ("def f():\n    import json\n", 0),
        ("class C(AppConfig):\n    def ready(self):\n        from portal.ops import stats\n", 1),
        ("def f():\n    from .x import y\n", 1),
        ("from scheduler import cycle\n", 0),
    ],
)
def test_the_function_import_finder_sees_what_it_must(tmp_path, source, expected):
    path = tmp_path / "m.py"
    path.write_text(source)
    assert len(list(_imports_inside_functions(path))) == expected
