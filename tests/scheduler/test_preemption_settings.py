"""GPUGRANT_PREEMPTION_SHARES is checked when the service starts."""

import os
import subprocess
import sys


def test_an_unknown_preemption_shares_setting_stops_the_service_at_start():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings", "GPUGRANT_PREEMPTION_SHARES": "fair"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "GPUGRANT_PREEMPTION_SHARES must be 'guaranteed' or 'demand', not 'fair'" in result.stderr
