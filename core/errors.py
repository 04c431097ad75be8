"""The one application error type. Pages map it to a message, the API to one JSON shape."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ErrorCode(models.TextChoices):
    """Closed set of error codes; apps add theirs here so the API documents one list."""

    INVALID = "invalid", _("The input is not valid.")
    NOT_FOUND = "not_found", _("Not found.")
    PERMISSION_DENIED = "permission_denied", _("You do not have permission to do this.")
    CONFLICT = "conflict", _("The object was changed by someone else; reload and try again.")
    INVALID_TRANSITION = "invalid_transition", _("This step is not allowed from the current state.")
    UNAVAILABLE = "unavailable", _("A service this needs is unavailable; try again later.")


_STATUS_BY_CODE = {
    ErrorCode.INVALID: 400,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.PERMISSION_DENIED: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.UNAVAILABLE: 503,
}


class ApplicationError(Exception):
    """A business rule refused the request. ``message`` is safe to show a user (no PII)."""

    def __init__(self, code: ErrorCode, message: str | None = None, *, field_errors: dict | None = None):
        self.code = ErrorCode(code)
        self.message = str(message) if message is not None else str(self.code.label)
        self.field_errors = field_errors or {}
        super().__init__(self.message)

    @classmethod
    def invalid(cls, message: str, *, field: str | None = None) -> ApplicationError:
        """An INVALID error, attached to ``field`` when one input is to blame (forms show it there)."""
        return cls(ErrorCode.INVALID, message, field_errors={field: [message]} if field else None)

    @property
    def http_status(self) -> int:
        return _STATUS_BY_CODE.get(self.code, 400)

    def as_dict(self) -> dict:
        """The documented API error shape: {"error": {"code", "message", "fields"}}."""
        return {"error": {"code": self.code.value, "message": self.message, "fields": self.field_errors}}
