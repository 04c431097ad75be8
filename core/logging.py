"""Logging filter that stamps every record with the current request id (never PII)."""

import logging

from core import context


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.current().request_id or "-"
        return True
