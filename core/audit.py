"""The append-only audit log's one write path.  (Interface; implemented with core.models.AuditEvent.)"""

from __future__ import annotations

from typing import Any


class AuditAction:
    """Actions recorded by core and accounts; other apps pass their own dotted strings."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    LOCKED_OUT = "auth.locked_out"
    SESSION_EXPIRED = "auth.session_expired"
    ACCESS_DENIED = "access.denied"
    PII_REVEAL = "pii.reveal"
    EXPORT = "data.export"


def audit_record(*, actor: Any | None, action: str, target: Any | None = None,
                 detail: dict | None = None) -> Any:
    """Append one audit event (actor may be None or anonymous; IP and request id come from context)."""
    raise NotImplementedError  # implemented in the audit step of issue #2
