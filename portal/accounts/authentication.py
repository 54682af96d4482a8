"""DRF authentication by API key: ``Authorization: Token <key>`` or ``Authorization: Bearer <key>``."""

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from portal.accounts.services import api_key_authenticate

KEYWORDS = ("token", "bearer")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        parts = header.split()
        if parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Authorization header must be 'Token <key>' or 'Bearer <key>'.")
            )
        # A view may have more read with the key, in the same query (``api_key_annotations``).
        view = (getattr(request, "parser_context", None) or {}).get("view")
        key = api_key_authenticate(parts[1], **(getattr(view, "api_key_annotations", None) or {}))
        if key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        return key.user, key

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
