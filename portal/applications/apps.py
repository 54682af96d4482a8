from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "portal.applications"
    label = "applications"
    verbose_name = "Applications and reviews"
