"""Production mode: HTTPS only, secure cookies, HSTS and a Content-Security-Policy the pages live with."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.csp import ContentSecurityPolicyMiddleware

ROOT = Path(__file__).resolve().parent.parent.parent
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.IGNORECASE)


@pytest.fixture(scope="module")
def production():
    env = {
        **os.environ,
        "GPUGRANT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "GPUGRANT_CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "gpugrant.example.kr",
        "DEBUG": "",
    }
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests/web/_production_probe.py"),
            "/accounts/login/",
            "/api/docs/",
            "/api/v1/me",
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_redirects_plain_http_to_https(production):
    assert production["http"]["status"] == 301
    assert production["http"]["location"].startswith("https://")


def test_it_sends_hsts_for_a_year_with_subdomains(production):
    hsts = production["/accounts/login/"]["headers"]["Strict-Transport-Security"]
    assert hsts == "max-age=31536000; includeSubDomains; preload"


def test_it_marks_cookies_secure_and_the_session_http_only(production):
    cookies = production["/accounts/login/"]["cookies"]
    assert cookies["csrftoken"]["secure"] and cookies["csrftoken"]["httponly"]


def test_it_sends_a_strict_content_security_policy(production):
    policy = production["/accounts/login/"]["headers"]["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert production["/api/v1/me"]["headers"]["Content-Security-Policy"] == policy
    headers = production["/accounts/login/"]["headers"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_it_allows_the_api_docs_their_inline_style_but_no_inline_script(production):
    docs = production["/api/docs/"]
    assert docs["status"] == 200
    policy = dict(d.strip().split(" ", 1) for d in docs["headers"]["Content-Security-Policy"].split(";"))
    assert policy["style-src"] == "'self' 'unsafe-inline'"
    assert policy["script-src"] == "'self'"


@pytest.mark.django_db
def test_it_serves_the_docs_start_up_script_from_a_url(client):
    page = client.get("/api/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    script = re.search(r'<script src="([^"]*script=[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "SwaggerUIBundle" in client.get(script).content.decode()


def test_it_leaves_the_header_off_when_no_policy_is_set(settings, rf):
    settings.GPUGRANT_CONTENT_SECURITY_POLICY = ""
    from django.http import HttpResponse

    response = ContentSecurityPolicyMiddleware(lambda request: HttpResponse("x"))(rf.get("/"))
    assert "Content-Security-Policy" not in response


def find_inline_code(html: str) -> list[str]:
    """Inline scripts, style blocks, style attributes and event handlers: what the policy would block."""
    return INLINE.findall(html)
