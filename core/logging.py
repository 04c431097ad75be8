"""Logging: the request-id filter (never PII) and redaction of paths that carry a secret token."""

import logging
import re

from core import context


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.current().request_id or "-"
        return True


# Paths whose next segment is a bearer secret: whoever holds the URL answers as the customer
# (the survey link of an SMS). Access logs (gunicorn and runserver) write them redacted.
SECRET_PATH_PREFIXES = ("/public/surveys/",)
REDACTED = "[redacted]"
_SECRET_PATH_RE = re.compile(
    "(" + "|".join(re.escape(prefix) for prefix in SECRET_PATH_PREFIXES) + r")[^/?#\s\"']+"
)


def redact_secret_paths(text: str) -> str:
    """'/public/surveys/AbC.../' → '/public/surveys/[redacted]/' anywhere in ``text``."""
    return _SECRET_PATH_RE.sub(r"\1" + REDACTED, text)


class RedactSecretPathsFilter(logging.Filter):
    """For Django's request loggers (runserver's "django.server", "django.request"): redact token paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_secret_paths(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if hasattr(record, "request"):
            record.request = None  # the request object would print the raw path in a traceback
        return True
