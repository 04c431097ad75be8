"""The one pagination of the REST API: keyset ("cursor") pages, for every list endpoint of every app.

A page is ``{"next": url | null, "next_cursor": str | null, "results": [...]}``. ``page_size`` is 1 or
more (default 50; above 200 counts as 200); ``cursor`` is the ``next_cursor`` of the previous page,
an opaque token (base64url of the last row's ordering values) that clients pass on and never build.

A page is one indexed range read: ``WHERE (ordering) after (last row's values) ORDER BY ordering LIMIT
page_size + 1``. No OFFSET (page 10,000 costs what page 1 does) and no COUNT; rows inserted or deleted
while a client walks the pages are neither repeated nor skipped. A subclass names the ordering; its
last field must be unique within the queryset (the primary key, usually), so ties cannot straddle a
page boundary. NULLs of a nullable ordering field sort last ascending and first descending
(PostgreSQL's default, made explicit so SQLite pages the same).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from decimal import Decimal
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection
from django.db.models import F, Model, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

CURSOR_PARAM = "cursor"
PAGE_SIZE_PARAM = "page_size"
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200
CURSOR_MAX_LENGTH = 512
CURSOR_PATTERN = rf"^[A-Za-z0-9_-]{{1,{CURSOR_MAX_LENGTH}}}$"
_CURSOR_RE = re.compile(CURSOR_PATTERN)
# Before the one pagination, the customers API's cursor was the last id as digits; such a cursor
# still works on endpoints ordered by one integer key. (A new cursor never is all digits: it
# encodes a JSON list, so it starts with "W".)
_LEGACY_CURSOR_RE = re.compile(r"^[0-9]{1,18}$")
_PAGE_SIZE_RE = re.compile(r"^[0-9]+$")
INVALID_CURSOR = _("Invalid cursor; use next_cursor from a page.")
INVALID_PAGE_SIZE = _("Enter a whole number from 1 up.")


def _json_value(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def cursor_encode(position: list) -> str:
    raw = json.dumps([_json_value(value) for value in position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor_json(cursor: str) -> Any:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError):
        return None


class KeysetPagination:
    """Keyset pages over ``ordering`` (a subclass sets it); used as an APIView's ``pagination_class``.

    In the view: ``paginator = self.pagination_class()``; ``rows = paginator.paginate_queryset(queryset,
    request)`` (the queryset's own ordering is replaced); ``paginator.get_paginated_response(data)``.
    drf-spectacular documents the two parameters and the envelope from this class.
    """

    ordering: ClassVar[tuple[str, ...]] = ("id",)
    page_size = PAGE_SIZE_DEFAULT
    max_page_size = PAGE_SIZE_MAX

    def paginate_queryset(self, queryset: QuerySet, request, view=None) -> list:
        """Return the page's rows (a list), at most ``page_size`` of them."""
        self.request = request
        page_size = self._page_size(request)
        position = self._position(request, queryset.model)
        if position is not None:
            queryset = queryset.filter(self._after(queryset.model, position))
        rows = list(queryset.order_by(*self._order_by(queryset.model))[: page_size + 1])
        self.next_cursor = cursor_encode(self._position_of(rows[page_size - 1])) if len(rows) > page_size else None
        return rows[:page_size]

    def get_paginated_response(self, data: list) -> Response:
        return Response(self.get_paginated_data(data))

    def get_paginated_data(self, data: list) -> dict:
        return {"next": self._next_url(), "next_cursor": self.next_cursor, "results": data}

    # --- the request ---------------------------------------------------------------------------

    def _page_size(self, request) -> int:
        raw = request.query_params.get(PAGE_SIZE_PARAM)
        if raw is None:
            return self.page_size
        digits = raw.lstrip("0")
        if not _PAGE_SIZE_RE.fullmatch(raw) or not digits:
            raise exceptions.ValidationError({PAGE_SIZE_PARAM: [str(INVALID_PAGE_SIZE)]})
        # Thousands of digits would pass Python's int() limit (a ValueError): any long number is "above".
        return self.max_page_size if len(digits) > 9 else min(int(digits), self.max_page_size)

    def _position(self, request, model: type[Model]) -> list | None:
        """The decoded cursor: the last row's ordering values, each of its field's type; 400 if not ours."""
        cursor = request.query_params.get(CURSOR_PARAM)
        if cursor is None:
            return None
        if _CURSOR_RE.fullmatch(cursor) is None:
            raise self._invalid_cursor()
        fields = [model._meta.get_field(name.lstrip("-")) for name in self.ordering]
        if _LEGACY_CURSOR_RE.fullmatch(cursor) and len(fields) == 1 and fields[0].get_internal_type() in (
                "AutoField", "BigAutoField", "IntegerField", "BigIntegerField", "ForeignKey", "OneToOneField"):
            values = [int(cursor)]
        else:
            values = _cursor_json(cursor)
        if not isinstance(values, list) or len(values) != len(fields):
            raise self._invalid_cursor()
        position = []
        for field, value in zip(fields, values, strict=True):
            if value is None and field.null:
                position.append(None)
                continue
            if isinstance(value, (bool, dict, list)) or value is None or (isinstance(value, str) and "\x00" in value):
                raise self._invalid_cursor()
            try:
                python_value = field.to_python(value)
                if (isinstance(python_value, int) and not -(2**63) <= python_value < 2**63) or (
                        isinstance(python_value, datetime.datetime) and timezone.is_naive(python_value)):
                    raise ValueError("outside the column's values")
                field.get_db_prep_value(python_value, connection=connection, prepared=False)
            except (DjangoValidationError, ValueError, TypeError, OverflowError) as exc:
                raise self._invalid_cursor() from exc
            position.append(python_value)
        return position

    @staticmethod
    def _invalid_cursor() -> exceptions.ValidationError:
        return exceptions.ValidationError({CURSOR_PARAM: [str(INVALID_CURSOR)]})

    # --- the query -----------------------------------------------------------------------------

    def _order_by(self, model: type[Model]) -> list:
        """``ordering``, with NULLs placed explicitly (last ascending, first descending) on every database."""
        expressions = []
        for name in self.ordering:
            field_name = name.lstrip("-")
            if not model._meta.get_field(field_name).null:
                expressions.append(name)
            elif name.startswith("-"):
                expressions.append(F(field_name).desc(nulls_first=True))
            else:
                expressions.append(F(field_name).asc(nulls_last=True))
        return expressions

    def _after(self, model: type[Model], position: list) -> Q:
        """Rows strictly after ``position`` in ``ordering``: OR over i of (equal on 0..i-1, after on i)."""
        after = Q(pk__in=[])  # matches nothing; each field ORs in its part
        equal = Q()
        for name, value in zip(self.ordering, position, strict=True):
            field_name = name.lstrip("-")
            nullable = model._meta.get_field(field_name).null
            descending = name.startswith("-")
            if value is None:
                # NULLs sort last ascending (nothing after them in this field), first descending.
                beyond = Q(pk__in=[]) if not descending else Q(**{f"{field_name}__isnull": False})
                same = Q(**{f"{field_name}__isnull": True})
            else:
                beyond = Q(**{f"{field_name}__{'lt' if descending else 'gt'}": value})
                if nullable and not descending:
                    beyond |= Q(**{f"{field_name}__isnull": True})
                same = Q(**{field_name: value})
            after |= equal & beyond
            equal &= same
        first_name = self.ordering[0].lstrip("-")
        first_value = position[0]
        if first_value is not None and not model._meta.get_field(first_name).null:
            # Redundant with the OR, but lets PostgreSQL start an index range scan at the position.
            after &= Q(**{f"{first_name}__{'lte' if self.ordering[0].startswith('-') else 'gte'}": first_value})
        return after

    def _position_of(self, row: Model) -> list:
        return [getattr(row, row._meta.get_field(name.lstrip("-")).attname) for name in self.ordering]

    def _next_url(self) -> str | None:
        if self.next_cursor is None:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(remove_query_param(url, CURSOR_PARAM), CURSOR_PARAM, self.next_cursor)

    # --- the schema (drf-spectacular calls these) ----------------------------------------------

    def get_schema_operation_parameters(self, view) -> list[dict]:
        return [
            {
                "name": CURSOR_PARAM, "required": False, "in": "query",
                "description": "The next_cursor of the previous page (opaque: pass it on, never build it); "
                               "omit for the first page. A cursor the API did not issue is a 400.",
                "schema": {"type": "string", "pattern": CURSOR_PATTERN, "maxLength": CURSOR_MAX_LENGTH},
            },
            {
                "name": PAGE_SIZE_PARAM, "required": False, "in": "query",
                "description": f"Results per page, 1 or more (default {self.page_size}); above "
                               f"{self.max_page_size} counts as {self.max_page_size}.",
                "schema": {"type": "integer", "minimum": 1, "default": self.page_size},
            },
        ]

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return {
            "type": "object",
            "required": ["next", "next_cursor", "results"],
            "properties": {
                "next": {"type": "string", "format": "uri", "nullable": True,
                         "description": "URL of the next page; null on the last page."},
                "next_cursor": {"type": "string", "nullable": True, "pattern": CURSOR_PATTERN,
                                "description": "Pass as ?cursor= for the next page; null on the last page."},
                "results": schema,
            },
        }


