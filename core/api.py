"""The one DRF exception handler: every API error leaves in the shape of ApplicationError.as_dict()."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, ErrorCode

_CODE_BY_DRF_CLASS = [
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED.value),
    (exceptions.NotFound, ErrorCode.NOT_FOUND.value),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
    (exceptions.ParseError, "parse_error"),
    (exceptions.ValidationError, ErrorCode.INVALID.value),
]


def _code_for(exc: exceptions.APIException) -> str:
    for klass, code in _CODE_BY_DRF_CLASS:
        if isinstance(exc, klass):
            return code
    return str(exc.default_code)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling and logging take over
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = str(ErrorCode.INVALID.label)
        fields = detail
    else:
        message = str(exc.detail) if not isinstance(exc.detail, (dict, list)) else str(exc.default_detail)
        fields = {}
    response.data = {"error": {"code": _code_for(exc), "message": message, "fields": fields}}
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS and getattr(exc, "wait", None):
        response.data["error"]["retry_after_seconds"] = int(exc.wait)
    return response
