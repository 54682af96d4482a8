"""Helpers shared by API views: visible-object lookup, permissions, pagination of plain lists."""

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import permissions
from rest_framework.settings import api_settings

from portal.accounts.models import ApiKey
from portal.errors import InvalidInput


def get_visible(queryset, public_id):
    """The object with ``public_id`` if the caller may see it; otherwise 404 (never 403: no existence leak)."""
    obj = queryset.filter(public_id=public_id).first()
    if obj is None:
        raise Http404
    return obj


class ApiKeyScope(permissions.BasePermission):
    """A read-only API key may only use safe methods."""

    message = _("This API key is read-only.")

    def has_permission(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey) and request.auth.read_only:
            return request.method in permissions.SAFE_METHODS
        return True


class IsStaff(permissions.BasePermission):
    message = _("Only programme staff may do this.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)


class IsReviewer(permissions.BasePermission):
    message = _("Only reviewers may do this.")

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_reviewer)


def paginate(view, request, queryset, serializer_class, context=None, render=None):
    """One page of ``queryset`` as ``serializer_class`` renders it. ``render(obj, context)``, where given,
    renders each object instead (what ``serializer_class`` would, with fields built once: job_out_data);
    every object of the page shares one context."""
    paginator = api_settings.DEFAULT_PAGINATION_CLASS()
    page = paginator.paginate_queryset(queryset, request, view=view)
    context = context or {"request": request}
    if render is None:
        data = serializer_class(page, many=True, context=context).data
    else:
        data = [render(obj, context) for obj in page]
    return paginator.get_paginated_response(data)


def schema_without_trailing_slash_duplicates(endpoints, **kwargs):
    """drf-spectacular hook: every API route also answers with a trailing slash; document one form."""
    return [e for e in endpoints if not (e[0].startswith("/api/v1/") and e[0].endswith("/"))]


def csv_requested(request) -> bool:
    """Whether ``?export=csv`` was asked for; any other ``export`` is a field error."""
    value = request.query_params.get("export")
    if value not in (None, "csv"):
        raise InvalidInput(_("Invalid export."), fields={"export": [_("Only csv is offered.")]})
    return value == "csv"
