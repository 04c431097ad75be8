"""API plumbing shared by every app: the one exception handler (every error leaves in the shape of
ApplicationError.as_dict()), the error component and default error responses in the schema, and
the serializer mixin that refuses unknown fields. The one pagination is core.api.pagination, the
parser (413, parse_error) core.parsers, the per-principal throttle core.throttling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ApplicationError, ErrorCode
from core.parsers import PayloadTooLarge

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
    (PayloadTooLarge, "payload_too_large"),
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
    elif isinstance(exc, RequestDataTooBig):
        # Django raises it (a SuspiciousOperation, otherwise an HTML 400) when request.body or a
        # form body passes DATA_UPLOAD_MAX_MEMORY_SIZE.
        exc = PayloadTooLarge()
    elif isinstance(exc, TooManyFieldsSent):
        exc = exceptions.ParseError(_("Too many form fields."))
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
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        wait = getattr(exc, "wait", None)
        if wait is not None:
            response.data["error"]["retry_after_seconds"] = max(1, math.ceil(wait))
    return response


@extend_schema_serializer(component_name="ApiErrorDetail")
class ApiErrorDetailOutput(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable code: invalid, not_found, permission_denied, "
                                           "conflict, not_authenticated, throttled, parse_error, ...")
    message = serializers.CharField(help_text="Safe to show a person; never contains PII.")
    fields = serializers.DictField(
        child=serializers.JSONField(), help_text="Field name → list of problems, for invalid input."
    )
    retry_after_seconds = serializers.IntegerField(required=False, help_text="Only on 429.")


@extend_schema_serializer(component_name="ApiError")
class ApiErrorOutput(serializers.Serializer):
    """The one error shape every API error has: {"error": {"code", "message", "fields"}}."""

    error = ApiErrorDetailOutput()


IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    name=IDEMPOTENCY_HEADER,
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    # What core.idempotency accepts: printable ASCII, at least one non-space character, 255 at most.
    pattern=r"^[!-~]([ -~]{0,253}[!-~])?$",
    description=(
        "Any unique string (1-255 printable ASCII characters; a UUID is ideal). A retry with the same key "
        "and body replays the first response (header Idempotent-Replayed: true); the same key with another "
        "body is a 422; while the first request still runs, a 409. Keys are kept 24 hours per API key or user."
    ),
)


class AutoSchema(SpectacularAutoSchema):
    """Document the error responses every operation can give (in the one error shape), and the
    Idempotency-Key header on handlers wrapped by ``core.idempotency.idempotent``.
    """

    def _is_idempotent(self) -> bool:
        return getattr(getattr(self.view, self.method.lower(), None), "idempotent", False)

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        if self._is_idempotent():
            parameters = [*parameters, IDEMPOTENCY_KEY_PARAMETER]
        return parameters

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        error_codes = ["400", "401", "403", "404", "429"]
        if self.method in ("POST", "PUT", "PATCH"):
            error_codes.append("413")
        if self._is_idempotent():
            error_codes += ["409", "422"]
        for code in error_codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(ApiErrorOutput, code, direction=direction)
        return responses


class RejectUnknownFieldsMixin:
    """Put first in a Serializer's bases: input keys that are not writable fields → 400 listing each.

    Silently ignoring a misspelt field would drop data the client thinks it sent.
    """

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(str(name) for name in data if name not in writable)
            if unknown:
                raise exceptions.ValidationError({name: [_("Unknown field.")] for name in unknown})
        return super().to_internal_value(data)


class RejectUnknownFieldsSchema(OpenApiSerializerExtension):
    """Say in the schema what RejectUnknownFieldsMixin does: no properties beyond the documented ones.

    Without it the schema allows extra keys that the server refuses, and schema-driven clients
    and tests (schemathesis) send them.
    """

    target_class = RejectUnknownFieldsMixin
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


MAX_ID = 2**63 - 1  # the largest id PostgreSQL's bigint holds; a longer one names no row


def path_id_or_404(raw: str) -> int:
    """An id from a URL segment routed as str; anything but digits within a bigint is the API's JSON 404.

    An ``<int:>`` route that does not match answers Django's HTML 404 page instead.
    """
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise exceptions.NotFound()
    return int(raw)


class QueryInput(serializers.Serializer):
    """Base for query-string filters: "?branch=" is a 400, not "not sent".

    DRF reads an empty value of an optional field in a QueryDict as absent, while the schema says the
    value has a minimum length (or is a date, one of a set...); refusing it keeps the two in step.
    """

    def to_internal_value(self, data):
        blank = sorted(name for name, field in self.fields.items()
                       if not getattr(field, "allow_blank", False) and data.get(name, None) == "")
        if blank:
            raise serializers.ValidationError({name: [_("This field may not be blank.")] for name in blank})
        return super().to_internal_value(data)
