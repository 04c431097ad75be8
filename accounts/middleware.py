"""Session lifetime: log out after an idle period and after an absolute period since login."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core.audit import AuditAction, audit_record

# Both stored as whole epoch seconds, so the JSON session serializer keeps them as they are.
LOGIN_AT_SESSION_KEY = "accounts_login_at"
LAST_ACTIVITY_SESSION_KEY = "accounts_last_activity_at"
# Writing the activity time on every request would save the session on every request; a minute
# of slack in a thirty-minute idle limit is worth one write a minute at most.
ACTIVITY_WRITE_INTERVAL_SECONDS = 60
# Set on the request while expiring, so the logout receiver does not record a second event.
SESSION_EXPIRING_ATTRIBUTE = "accounts_session_expiring"


class ExpiryReason:
    IDLE = "idle"
    ABSOLUTE = "absolute"


def session_clock_start(session: SessionBase) -> None:
    """Stamp a freshly logged-in session with its login (and first activity) time."""
    now = int(timezone.now().timestamp())
    session[LOGIN_AT_SESSION_KEY] = now
    session[LAST_ACTIVITY_SESSION_KEY] = now


def session_expiry_reason(session: SessionBase, *, now: int) -> str | None:
    """Why this authenticated session has expired at ``now`` (epoch seconds), or None if it has not."""
    login_at = session.get(LOGIN_AT_SESSION_KEY)
    if login_at is None:
        # Its age cannot be proven (a session older than this middleware): end it rather than
        # grant a fresh twelve hours.
        return ExpiryReason.ABSOLUTE
    if now - login_at >= settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds():
        return ExpiryReason.ABSOLUTE
    last_activity_at = session.get(LAST_ACTIVITY_SESSION_KEY, login_at)
    if now - last_activity_at >= settings.SESSION_IDLE_TIMEOUT.total_seconds():
        return ExpiryReason.IDLE
    return None


class SessionTimeoutMiddleware:
    """Log out idle sessions (SESSION_IDLE_TIMEOUT) and old ones (SESSION_ABSOLUTE_TIMEOUT since login).

    Must come after AuthenticationMiddleware. Pages are redirected to the login page with ``next``;
    htmx requests get an ``HX-Redirect`` header instead (a 302 would be swapped into the page);
    API requests continue as anonymous, so DRF answers with its usual not-authenticated error.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(timezone.now().timestamp())
            reason = session_expiry_reason(request.session, now=now)
            if reason is not None:
                return self._expire(request, reason=reason)
            last_activity_at = request.session.get(LAST_ACTIVITY_SESSION_KEY, 0)
            if now - last_activity_at >= ACTIVITY_WRITE_INTERVAL_SECONDS:
                request.session[LAST_ACTIVITY_SESSION_KEY] = now
        return self.get_response(request)

    def _expire(self, request: HttpRequest, *, reason: str) -> HttpResponse:
        audit_record(actor=request.user, action=AuditAction.SESSION_EXPIRED, detail={"reason": reason})
        setattr(request, SESSION_EXPIRING_ATTRIBUTE, True)
        logout(request)  # flushes the session and gives it a new key
        if request.path.startswith("/api/"):
            return self.get_response(request)

        next_path = self._next_path(request)
        login_url = redirect_to_login(next_path)["Location"] if next_path else resolve_url(settings.LOGIN_URL)
        if request.headers.get("HX-Request") == "true":
            response = HttpResponse()
            response["HX-Redirect"] = login_url
        else:
            response = HttpResponseRedirect(login_url)
        # This middleware runs before MessageMiddleware (see MIDDLEWARE) and answers without
        # calling it, so it stores the message itself.
        storage = default_storage(request)
        storage.add(messages.INFO, _("Your session expired, please log in again"))
        storage.update(response)
        return response

    def _next_path(self, request: HttpRequest) -> str:
        """Where to return after login: this page, or the page that sent the htmx request or form."""
        if request.headers.get("HX-Request") == "true":
            source_url = request.headers.get("HX-Current-URL", "")
        elif request.method not in ("GET", "HEAD"):
            source_url = request.headers.get("Referer", "")  # a POST endpoint cannot be returned to
        else:
            return request.get_full_path()
        if not url_has_allowed_host_and_scheme(
            source_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return ""
        parts = urlsplit(source_url)
        return f"{parts.path}?{parts.query}" if parts.query else parts.path


# Pages an unverified member of staff may still open: the two-factor pages themselves, logging out,
# the language switch and the health checks. Static files never reach Django's middleware here.
MFA_OPEN_PATH_PREFIXES = ("/accounts/mfa/", "/accounts/logout/", "/accounts/login/", "/i18n/", "/jsi18n/",
                          "/healthz", "/readyz", "/public/")


class MfaRequiredMiddleware:
    """Send a signed-in member of staff who must use (or chose) a second factor to verify or enrol first.

    Pages redirect (keeping ``next``); session calls to the API get a 403 in the API's error shape.
    API keys have no session and are not affected.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from accounts import mfa

        user = getattr(request, "user", None)
        if (user is None or not user.is_authenticated or request.path.startswith(MFA_OPEN_PATH_PREFIXES)
                or user.is_verified()):
            return self.get_response(request)
        enrolled = mfa.mfa_enrolled(user)
        if not enrolled and not mfa.mfa_required_for(user):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse({"error": {"code": "mfa_required", "message": str(
                _("Confirm your sign-in with your authenticator app first.")), "fields": {}}}, status=403)
        target = reverse("accounts:mfa-verify" if enrolled else "accounts:mfa-setup")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
