from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "portal.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        # Receivers connect once the app registry is ready (Django's rule): their modules use models.
        from portal.ops import logs, stats

        logs.connect_celery_signals()
        stats.connect_scheduler_signals()
