"""The main actions are reachable with Tab alone, and whatever has the focus shows it clearly.

"Clearly" is WCAG 2.1's 1.4.11 for the focus ring: an outline at least 2px wide whose colour has at
least 3:1 contrast with the background behind it.
"""

import pytest

from scheduler.inventory import inventory_sync
from tests import builders

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# What has the focus, and how its focus ring stands against the nearest opaque background behind it.
FOCUS_FACTS = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  let behind = element.parentElement, background = [255, 255, 255, 0];
  while (behind) {
    background = rgb(getComputedStyle(behind).backgroundColor);
    if (background.length === 3 || background[3] > 0) break;
    behind = behind.parentElement;
  }
  const luminance = ([r, g, b]) => [r, g, b]
    .map((c) => c / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4))
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const [lighter, darker] = [luminance(rgb(style.outlineColor)), luminance(background)].sort((a, b) => b - a);
  return {
    name: (element.innerText || element.getAttribute('aria-label') || element.name || element.id || '').trim(),
    tag: element.tagName.toLowerCase(),
    outlineWidth: parseFloat(style.outlineWidth) || 0,
    outlineStyle: style.outlineStyle,
    contrast: (lighter + 0.05) / (darker + 0.05),
  };
}"""


def tab_to(page, name: str, most: int = 40) -> list[dict]:
    """Press Tab until the element called ``name`` has the focus; every element passed on the way."""
    passed = []
    for _ in range(most):
        page.keyboard.press("Tab")
        facts = page.evaluate(FOCUS_FACTS)
        passed.append(facts)
        if facts["name"] == name:
            return passed
    raise AssertionError(f"{name!r} not reached with {most} presses of Tab: {[f['name'] for f in passed]}")


def assert_focus_visible(passed: list[dict]) -> None:
    faint = [f for f in passed if f["outlineStyle"] == "none" or f["outlineWidth"] < 2 or f["contrast"] < 3]
    assert not faint, f"focus not clearly visible on: {faint}"


def test_it_reaches_the_main_actions_with_tab_and_shows_the_focus(visitors, owner, allocation, backend):
    inventory_sync(backend=backend)
    visitor = visitors("keyboard")

    page = visitor.goto("/accounts/login/")
    passed = tab_to(page, "Log in")  # the email field has the focus already (autofocus)
    visitor.shot("login focus")
    assert_focus_visible(passed)

    visitor.log_in(owner.email, builders.PASSWORD)
    page = visitor.goto("/jobs/new/")
    passed = tab_to(page, "Submit job", most=60)
    visitor.shot("job form submit focused")
    assert_focus_visible(passed)

    page = visitor.goto(f"/allocations/{allocation.public_id}/")
    passed = tab_to(page, "Submit a job", most=60)
    visitor.shot("allocation submit a job focused")
    assert_focus_visible(passed)
