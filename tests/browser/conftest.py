"""Browser tests: Playwright for Python driving the machine's Chromium against a live server.

Only the Debian Chromium at /usr/bin/chromium is used, never a browser Playwright downloads. Where it is
missing the setup installs it (as root, with apt), and axe-core comes from the npm registry into a
git-ignored cache folder; where either cannot be had, the tests that need it skip with the reason.
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
AXE_CACHE = ROOT / ".cache" / "browser-tests"
AXE_SCRIPT = AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4"

# The closed network refuses Chromium's background connections, many at a time; these keep it quiet.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _install_chromium() -> str | None:
    """The reason Chromium is unavailable, or None once /usr/bin/chromium exists."""
    if CHROMIUM.exists():
        return None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium (as root)"
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", "chromium"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    if not CHROMIUM.exists():
        return f"apt-get install chromium failed: {result.stderr.strip()[-300:]}"
    return None


def _install_axe() -> str | None:
    """The reason axe-core is unavailable, or None once its script is in the cache folder."""
    if AXE_SCRIPT.exists():
        return None
    npm = shutil.which("npm")
    if not npm:
        return "needs npm to install axe-core from the npm registry"
    AXE_CACHE.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [npm, "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", f"axe-core@{AXE_VERSION}"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if not AXE_SCRIPT.exists():
        return f"npm install axe-core failed: {result.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="package")
def browser():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.skip("needs playwright: pip install -c constraints.txt -e '.[dev]'")
    # Pages answer in well under a second, but CI runs the whole suite on two busy cores.
    expect.set_options(timeout=15_000)
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    # Playwright's sync API marks an event loop as running on the test's thread while it is started;
    # Django would then refuse the ORM calls the tests make between page actions, though nothing runs
    # concurrently there. Package scope stops it, and this allowance ends, before any other tests run.
    allowed = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if allowed is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = allowed


@pytest.fixture(scope="package")
def axe_source() -> str:
    reason = _install_axe()
    if reason:
        pytest.skip(reason)
    return AXE_SCRIPT.read_text()


class Visitor:
    """One person's browser session: pages, screenshots of each page visited, and the axe check."""

    def __init__(self, context, base_url: str, name: str, shots: Path, axe_source: str):
        self.context = context
        self.page = context.new_page()
        self.base_url = base_url
        self.name = name
        self.shots = shots
        self.axe_source = axe_source
        self.shot_count = 0

    def goto(self, path: str):
        self.page.goto(self.base_url + path)
        return self.page

    def shot(self, label: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.shot_count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        self.page.screenshot(
            path=str(self.shots / f"{self.name}-{self.shot_count:02d}-{slug}.png"), full_page=True
        )

    def log_in(self, email: str, password: str) -> None:
        page = self.goto("/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"^(?!.*/accounts/login/).*$"))

    def assert_accessible(self, label: str) -> None:
        """No axe-core violation of impact serious or critical on the page as it is now."""
        self.shot(label)
        self.page.add_script_tag(content=self.axe_source)
        results = self.page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
        serious = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
        described = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:5],
            }
            for v in serious
        ]
        assert not serious, f"axe on {label} ({self.page.url}):\n{json.dumps(described, indent=1)}"


@pytest.fixture
def visitors(browser, axe_source, live_server, request):
    """visitors(name) → a Visitor with its own cookies; all are closed after the test."""
    shots = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    if shots.exists():
        shutil.rmtree(shots)
    contexts = []

    def open_visitor(name: str, locale: str = "en-GB") -> Visitor:
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Visitor(context, live_server.url, name, shots, axe_source)

    yield open_visitor
    for context in contexts:
        context.close()
