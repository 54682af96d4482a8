"""Preemption settings are checked when the service starts."""

import os
import subprocess
import sys

import pytest


def _start(code="import django; django.setup()", **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_unknown_preemption_shares_setting_stops_the_service_at_start():
    result = _start(GPUGRANT_PREEMPTION_SHARES="fair")
    assert result.returncode != 0
    assert "GPUGRANT_PREEMPTION_SHARES must be 'guaranteed' or 'demand', not 'fair'" in result.stderr


POLICY_CODE = (
    "import django; django.setup(); from scheduler.snapshot import policy_from_settings as p; print(p())"
)


@pytest.mark.parametrize(
    "name, value, message",
    [
        (
            "GPUGRANT_PREEMPTION_MAX_RUN_S",
            "-60",
            "GPUGRANT_PREEMPTION_MAX_RUN_S must be 0 (no limit) or more seconds, not -60",
        ),
        ("GPUGRANT_PREEMPTION_MAX_RUN_S", "8h", "GPUGRANT_PREEMPTION_MAX_RUN_S must be an integer, not '8h'"),
        (
            "GPUGRANT_PREEMPTION_WAIT_BUDGET",
            "3%",
            "GPUGRANT_PREEMPTION_WAIT_BUDGET must be a number (a fraction such as 0.03, or 0 for none), not '3%'",
        ),
        (
            "GPUGRANT_PREEMPTION_WAIT_BUDGET",
            "-0.1",
            "GPUGRANT_PREEMPTION_WAIT_BUDGET must be 0 (none) or a positive fraction, not -0.1",
        ),
        (
            "GPUGRANT_PREEMPTION_WAIT_BUDGET",
            "nan",
            "GPUGRANT_PREEMPTION_WAIT_BUDGET must be 0 (none) or a positive fraction, not nan",
        ),
        (
            "GPUGRANT_PREEMPTION_BUDGET_WINDOW_S",
            "0",
            "GPUGRANT_PREEMPTION_BUDGET_WINDOW_S must be a positive number of seconds, not 0",
        ),
    ],
)
def test_a_bad_preemption_setting_stops_the_service_at_start(name, value, message):
    result = _start(**{name: value})
    assert result.returncode != 0
    assert message in result.stderr


@pytest.mark.parametrize(
    "name, value, field",
    [
        ("GPUGRANT_PREEMPTION_MAX_RUN_S", "28800", "preemption_max_run_s=28800"),
        ("GPUGRANT_PREEMPTION_WAIT_BUDGET", "0.03", "preemption_wait_budget=0.03"),
    ],
)
def test_a_preemption_setting_reaches_the_plans_policy(name, value, field):
    result = _start(POLICY_CODE, **{name: value})
    assert result.returncode == 0, result.stderr
    assert field in result.stdout
