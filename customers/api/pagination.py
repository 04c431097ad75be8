"""Keyset ("cursor") pagination for the API: pages follow the id, so a page costs the same at row
10 and at row 1,000,000, and rows inserted meanwhile are neither skipped nor repeated.

The cursor is the last id of the previous page as decimal digits (clients should pass on
next_cursor rather than build it); anything else is a 400 in the one error shape, never a 500.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.utils.urls import replace_query_param

MAX_ID = 2**63 - 1
# Up to 18 digits always fits a bigint, so every cursor the schema allows is usable.
CURSOR_PATTERN = r"^[0-9]{1,18}$"


def cursor_encode(last_id: int) -> str:
    return str(last_id)


def cursor_decode(cursor: str | None) -> int | None:
    """Return the id the cursor points after, None for the first page; 400 for a cursor we did not issue."""
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise exceptions.ValidationError({"cursor": [_("Invalid cursor; use next_cursor from a page.")]})
    return int(cursor)


def page(request, items: list, *, page_size: int, render, key=lambda item: item.pk) -> dict:
    """Build {"next", "next_cursor", "results"} from up to page_size + 1 fetched items."""
    has_next = len(items) > page_size
    items = items[:page_size]
    next_cursor = cursor_encode(key(items[-1])) if has_next and items else None
    next_url = (
        replace_query_param(request.build_absolute_uri(), "cursor", next_cursor) if next_cursor else None
    )
    return {"next": next_url, "next_cursor": next_cursor, "results": [render(item) for item in items]}
