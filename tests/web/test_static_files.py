"""Production mode serves the collected static files itself (WhiteNoise): no other server is deployed."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent.parent
PROBE = """
import os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("collectstatic", interactive=False, verbosity=0)
for path in ("/static/web/portal.css", "/static/web/no-such-file.css"):
    response = Client().get(path, secure=True, HTTP_HOST="gpugrant.example.kr")
    body = b"".join(response.streaming_content) if response.streaming else response.content
    print("|".join([path, str(response.status_code), response.get("Content-Type", ""), str(len(body))]))
"""


def test_it_serves_collected_static_files_in_production(tmp_path):
    env = {
        **os.environ,
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "GPUGRANT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "gpugrant.example.kr",
        "DEBUG": "",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    lines = dict(
        line.split("|", 1) for line in result.stdout.strip().splitlines() if line.startswith("/static/")
    )
    status, content_type, size = lines["/static/web/portal.css"].split("|")
    assert status == "200" and content_type.startswith("text/css")
    assert int(size) == (ROOT / "portal/web/static/web/portal.css").stat().st_size
    assert lines["/static/web/no-such-file.css"].startswith("404|")
