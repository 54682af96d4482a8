from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "portal.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from portal.ops import logs

        logs.connect_celery_signals()
