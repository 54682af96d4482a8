"""gpugrant's Django project: settings, URLs, the Celery app and the portal's apps."""

from portal.celery import app as celery_app

__all__ = ["celery_app"]
