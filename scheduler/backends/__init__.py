"""Cluster I/O behind one interface (base.Backend): kubernetes, local, simulated."""

from django.conf import settings
from django.utils.module_loading import import_string

from scheduler.backends.base import Backend

_instances: dict[str, Backend] = {}


def get_backend(name: str | None = None) -> Backend:
    """The configured backend (settings.GPUGRANT_BACKEND), one instance per process."""
    name = name or settings.GPUGRANT_BACKEND
    if name not in _instances:
        _instances[name] = import_string(settings.GPUGRANT_BACKENDS[name])()
    return _instances[name]


def reset_backends() -> None:
    _instances.clear()
