"""Anonymous denials, counted per kind, source address and minute (issue 16, finding 6).

Before, each wrong API key and each anonymous POST without a CSRF token appended an undeletable
row to the audit hash chain: 476 rows in 4 seconds from one client. Here they become one
``SecurityEvent`` row per (kind, source, minute) whose count goes up; past
``WRITES_PER_SOURCE_MINUTE`` events in a minute from one source, only every
``WRITES_PER_SOURCE_MINUTE``-th event touches the database (adding that many), so a flood costs
one cache increment per request. Rows older than SECURITY_EVENT_RETENTION_DAYS are purged daily
(core.tasks.security_events_purge_task).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from core import context
from core.audit import _valid_ip_or_none
from core.logging import redact_secret_paths
from core.models import SecurityEvent

WRITES_PER_SOURCE_MINUTE = 60


class SecurityEventKind:
    API_KEY_UNKNOWN = "api_key.unknown"
    ANONYMOUS_DENIED = "access.denied_anonymous"


def security_event_record(*, kind: str, path: str = "", source: str | None = None) -> None:
    """Count one anonymous denial from ``source`` (default: the request's client address)."""
    source = _valid_ip_or_none(source or context.current().ip_address) or "unknown"
    now = timezone.now()
    minute = now.replace(second=0, microsecond=0)
    key = f"security-event:{kind}:{source}:{minute:%Y%m%d%H%M}"
    cache.add(key, 0, timeout=120)
    try:
        seen = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=120)
        seen = 1
    if seen <= WRITES_PER_SOURCE_MINUTE:
        increment = 1
    elif seen % WRITES_PER_SOURCE_MINUTE == 0:
        increment = WRITES_PER_SOURCE_MINUTE
    else:
        return
    table = SecurityEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {table} (kind, source, minute, count, sample_path, last_seen_at)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (kind, source, minute)
                DO UPDATE SET count = {table}.count + EXCLUDED.count, last_seen_at = EXCLUDED.last_seen_at""",  # noqa: S608 - table name from the model
            [kind, source, minute, increment, redact_secret_paths(path)[:200], now],
        )


def security_events_purge(*, older_than: timedelta | None = None) -> int:
    """Delete security events older than the retention period; return how many went."""
    older_than = older_than or timedelta(days=settings.SECURITY_EVENT_RETENTION_DAYS)
    deleted, _by_model = SecurityEvent.objects.filter(minute__lt=timezone.now() - older_than).delete()
    return deleted
