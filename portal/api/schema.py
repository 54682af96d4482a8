"""OpenAPI descriptions that drf-spectacular cannot infer on its own."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
