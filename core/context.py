"""Per-request (or per-task) context read by the audit log and the log filter."""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None
    # Lookups that many selectors repeat within one request (RequestIdMiddleware gives each request its
    # own dict); None outside a request, so a task or a test calling a selector always reads afresh.
    cache: dict | None = None


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "crm_request_context", default=None
)


def current() -> RequestContext:
    return _current.get() or _EMPTY


def bind(context: RequestContext) -> contextvars.Token:
    return _current.set(context)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)


def request_cached(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()`` once per request for ``key`` (every call outside a request computes)."""
    cache = current().cache
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]
