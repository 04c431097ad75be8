"""Per-request (or per-task) context read by the audit log and the log filter."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    request_id: str = ""
    ip_address: str | None = None


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "crm_request_context", default=RequestContext()
)


def current() -> RequestContext:
    return _current.get()


def bind(context: RequestContext) -> contextvars.Token:
    return _current.set(context)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
