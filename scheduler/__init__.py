"""Job scheduling (not built yet): the pure planning core in scheduler/core, backends, and the Celery cycle."""
