"""Request id and IP context, ApplicationError → message for pages, and auditing of denied access."""

from __future__ import annotations

import logging
import re
import secrets
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.validators import ProhibitNullCharactersValidator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from core import context
from core.audit import AuditAction, audit_record
from core.errors import ApplicationError
from core.security_events import SecurityEventKind, security_event_record

logger = logging.getLogger(__name__)

_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The client address. Behind a proxy, set TRUSTED_PROXY_COUNT so X-Forwarded-For is used."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR") or None


class RejectNulMiddleware:
    """A NUL character in the path is a 404, in the query string a 400, before any view sees it.

    PostgreSQL refuses NUL in text, so a crafted ``/complaints/%00/`` would otherwise end in a 500
    wherever a URL part reaches a query; no object's key holds a NUL, so such a path names nothing.
    API paths answer in the API's JSON error shape.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path or "\x00" in request.path_info:
            if request.path.startswith("/api/"):
                return _api_error(404, "not_found", _("Not found."))
            raise Http404
        refused = sorted(key for key, values in request.GET.lists()
                         if "\x00" in key or any("\x00" in value for value in values))
        if refused:
            message = _("The address contains a character that is not allowed.")
            if request.path.startswith("/api/"):
                # Name each parameter, with DRF's own words for a NUL in a string field.
                return _api_error(400, "parse_error", message,
                                  fields={key: [str(ProhibitNullCharactersValidator.message)] for key in refused})
            return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _api_error(status: int, code: str, message: str, *, fields: dict | None = None) -> JsonResponse:
    """The API's one error shape, for requests refused before DRF sees them."""
    return JsonResponse({"error": {"code": code, "message": str(message), "fields": fields or {}}}, status=status)


class RequestIdMiddleware:
    """Give every request an id (or keep a well-formed X-Request-ID), bind it for logs and audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request.id = incoming if _REQUEST_ID_PATTERN.match(incoming) else uuid.uuid4().hex
        token = context.bind(context.RequestContext(request_id=request.id, ip_address=client_ip(request),
                                                    cache={}))
        try:
            response = self.get_response(request)
        finally:
            context.reset(token)
        response["X-Request-ID"] = request.id
        return response


class ApplicationErrorMiddleware:
    """Show an ApplicationError raised by a page as a message, never as a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, ApplicationError) or request.path.startswith("/api/"):
            return None
        messages.error(request, exception.message)
        referer = request.headers.get("Referer", "")
        if request.method == "POST" and url_has_allowed_host_and_scheme(
            referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return HttpResponseRedirect(referer)
        return render(request, "error.html", {"error": exception}, status=exception.http_status)


class AccessDeniedAuditMiddleware:
    """Write an audit row for every 403 answered to a signed-in user or API client; count anonymous ones."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 403:
            user = getattr(request, "user", None)
            if user is None or not user.is_authenticated:
                # Anyone can cause these (a POST without CSRF): counted, not chained (core.security_events).
                security_event_record(kind=SecurityEventKind.ANONYMOUS_DENIED, path=request.path)
                return response
            audit_record(
                actor=getattr(request, "user", None),  # AnonymousUser is recorded as "anonymous"
                action=AuditAction.ACCESS_DENIED,
                detail={"path": request.path, "method": request.method},
            )
        return response


class SecurityHeadersMiddleware:
    """Content-Security-Policy without inline scripts, and ``Cache-Control: no-store`` on every dynamic response.

    Scripts come from our own static files only; a template that cannot avoid an inline script gives
    it ``nonce="{{ request.csp_nonce }}"``. Inline *styles* stay allowed (Bootstrap utilities, htmx
    indicators). Pages and API answers carry customer data, so nothing dynamic is stored by a
    browser or a proxy (static files are answered by WhiteNoise before this middleware runs).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.format(nonce=request.csp_nonce)
        if "no-store" not in response.get("Cache-Control", ""):
            add_never_cache_headers(response)
        return response


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
