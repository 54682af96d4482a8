from django.apps import AppConfig


class SchedulerConfig(AppConfig):
    name = "scheduler"
    label = "scheduler"
    verbose_name = "Jobs and scheduling"
