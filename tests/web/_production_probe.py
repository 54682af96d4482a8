"""Run with GPUGRANT_ENV=production: GET a few pages over HTTPS and print their security headers as JSON."""

import json
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
django.setup()

from django.test import Client  # noqa: E402

out = {}
for path in sys.argv[1:]:
    response = Client().get(path, secure=True, HTTP_HOST="gpugrant.example.kr")
    cookies = {
        name: {
            "secure": bool(morsel["secure"]),
            "httponly": bool(morsel["httponly"]),
            "samesite": morsel["samesite"],
        }
        for name, morsel in response.cookies.items()
    }
    out[path] = {"status": response.status_code, "headers": dict(response.headers), "cookies": cookies}
plain = Client().get("/accounts/login/", HTTP_HOST="gpugrant.example.kr")
out["http"] = {"status": plain.status_code, "location": plain.get("Location", "")}
print(json.dumps(out))
