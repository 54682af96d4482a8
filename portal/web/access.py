"""Who may open a page: login and role decorators, and object look-ups that 404 outside one's visibility."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404


def staff_required(view: Callable) -> Callable:
    """Anonymous users go to the login page; signed-in non-staff get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def reviewer_required(view: Callable) -> Callable:
    """Anonymous users go to the login page; signed-in users who are not reviewers get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_reviewer:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return login_required(wrapper)


def visible_or_404(queryset: QuerySet, public_id) -> Model:
    """The object with ``public_id`` if ``queryset`` (a visibility selector) holds it; otherwise 404."""
    return get_object_or_404(queryset, public_id=public_id)
