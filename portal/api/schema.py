"""OpenAPI descriptions that drf-spectacular cannot infer on its own."""

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import serializers
from rest_framework.settings import api_settings

from portal.api.throttling import OrganisationSubmitThrottle


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "portal.accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key (`manage.py create_api_key` or POST /api/v1/api-keys) as "
            "`Authorization: Bearer <key>`; `Authorization: Token <key>` works too.",
        }


class NodeKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "scheduler.node_keys.NodeKeyAuthentication"
    name = "nodeKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Node <key>` from `manage.py create_node_key --node NAME` (node agents only).",
        }


class ErrorFieldsOut(serializers.Serializer):
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="Field name (dotted for nested fields) → what is wrong with it.",
    )


class ErrorOut(serializers.Serializer):
    """The one error envelope every API error answers with (portal/api/errors.py)."""

    message = serializers.CharField()
    code = serializers.CharField()
    extra = ErrorFieldsOut()


RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, told two things our plain APIViews do not show it.

    - Every GET with a list response is paginated by ``portal.api.common.paginate``.
    - Every operation can fail with the error envelope: 401/403 (credentials, permissions, a read-only
      key), 429 (throttled), 404 (a path id the caller cannot see), 400 (bad query or body), 409
      (a state that forbids a write), 413/415 (body too large, not JSON), 503 (submissions shed: the views with
      the per-organisation submission throttle also take a submission slot).
      A client generated from the schema then knows each of them, and the fuzz test holds us to it.
    """

    def _get_paginator(self):
        if self.method == "GET" and self._is_list_view():
            return api_settings.DEFAULT_PAGINATION_CLASS()
        return None

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        codes = ["401", "403"]
        if self.view.get_throttles():
            codes.append("429")
        if "{" in self.path:
            codes.append("404")
        writes = self.method in ("POST", "PUT", "PATCH")
        if writes or self.method == "GET":
            codes.append("400")  # query parameters are validated too
        if writes:
            codes += ["409", "413", "415"]
        if self.method == "POST" and any(
            isinstance(t, OrganisationSubmitThrottle) for t in self.view.get_throttles()
        ):
            codes.append("503")
        for code in codes:
            if code in responses:
                continue
            response = self._get_response_for_code(ErrorOut, code, direction=direction)
            response["description"] = ERROR_DESCRIPTIONS[code]
            if code in ("429", "503"):
                response["headers"] = dict(RETRY_AFTER)
            responses[code] = response
        return responses


ERROR_DESCRIPTIONS = {
    "400": "Invalid input: see extra.fields.",
    "401": "No valid credentials.",
    "403": "Not allowed (role, or a read-only API key writing).",
    "404": "No such object among those the caller may see.",
    "409": "The object's state forbids this now.",
    "413": "The request body is too large.",
    "415": "The body is not JSON.",
    "429": "Too many requests: retry after Retry-After seconds.",
    "503": "At capacity for submissions: retry after Retry-After seconds.",
}
