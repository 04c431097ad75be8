"""API-key authentication: ``Authorization: Api-Key crm_<prefix>_<secret>`` → an ApiClient principal."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts import services
from accounts.models import ApiClient
from core.errors import ApplicationError

KEYWORD = "Api-Key"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Authenticate other bank systems by API key; requests without an Api-Key header pass to the next class.

    Listed first in DEFAULT_AUTHENTICATION_CLASSES so an unauthenticated API call is a 401 with
    ``WWW-Authenticate: Api-Key`` rather than session auth's 403.
    """

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Send the header as: Authorization: Api-Key <key>.")
        try:
            raw_key = parts[1].decode("ascii")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc
        try:
            api_key = services.api_key_authenticate(raw_key=raw_key)
        except ApplicationError as error:
            raise exceptions.AuthenticationFailed(error.message) from error
        return ApiClient(api_key), api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Send "Api-Key <key>". Keys are created by an administrator and carry scopes '
                           "(customers:read, customers:write, ...).",
        }
