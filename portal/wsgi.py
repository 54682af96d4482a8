"""WSGI entry point (gunicorn or any WSGI server)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

from portal.api.shedding import ShedSubmissions  # noqa: E402  (needs the settings loaded above)

application = ShedSubmissions(application)
