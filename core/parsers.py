"""The API's request parser (DEFAULT_PARSER_CLASSES).

Kept apart from core.api: DRF resolves parser classes while it defines APIView, so this module
must not import rest_framework.views (or drf-spectacular, which does).
"""

from __future__ import annotations

import io

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers, status

# Deeper JSON than any API body needs; Python's decoder itself gives up near 1,000 (RecursionError).
MAX_JSON_DEPTH = 32


def _json_depth_exceeds(value, limit: int) -> bool:
    """Whether arrays/objects nest deeper than ``limit`` (iterative: no recursion of our own)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "payload_too_large"


class JSONParser(parsers.JSONParser):
    """JSON with DATA_UPLOAD_MAX_MEMORY_SIZE enforced (DRF reads the stream itself and skips Django's check).

    Too large → 413; bytes that are not UTF-8 or not JSON → 400 parse_error.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is None:
            return super().parse(stream, media_type, parser_context)
        request = (parser_context or {}).get("request")
        try:
            declared_length = int(request.META.get("CONTENT_LENGTH") or 0) if request is not None else 0
        except ValueError:
            declared_length = 0
        if declared_length > limit:
            raise PayloadTooLarge()
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge()
        try:
            body.decode((parser_context or {}).get("encoding", settings.DEFAULT_CHARSET))
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(_("The request body is not valid UTF-8.")) from exc
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(_("The JSON body is nested too deeply.")) from exc
        if _json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise exceptions.ParseError(_("The JSON body is nested too deeply."))
        return data
