"""Who is calling (for throttles and idempotency records), and the per-principal throttle.

Kept apart from core.api: DRF resolves throttle classes while it defines APIView, so this module
must not import rest_framework.views (or drf-spectacular, which does).
"""

from __future__ import annotations

from typing import Any

from rest_framework import throttling
from rest_framework.settings import api_settings


def request_principal(user: Any) -> str | None:
    """Return "api-key:<id>" or "user:<id>" for the request's principal, None when anonymous.

    Core sits below accounts, so API clients are recognised by their ``principal_id`` attribute.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    principal_id = getattr(user, "principal_id", None)
    if principal_id:
        return str(principal_id)
    return f"user:{user.pk}"


class PrincipalRateThrottle(throttling.SimpleRateThrottle):
    """Limit requests per API key (or per staff user; per address when anonymous).

    The rate is REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["principal"] (env API_THROTTLE_RATE), read
    on each request so tests can override it. Counts live in the default cache: with several
    processes that cache must be shared (Redis), or each process counts on its own.
    """

    scope = "principal"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str:
        ident = request_principal(request.user) or f"anon:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
