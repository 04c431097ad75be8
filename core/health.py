"""Readiness probes: can this process reach the database and the broker right now?"""

from __future__ import annotations

import time

import psycopg2
import redis
from django.conf import settings

PROBE_TIMEOUT_SECONDS = 2


def check_database() -> dict:
    """Open a fresh connection (not the pooled one, which may be stale) and run SELECT 1."""
    db = settings.DATABASES["default"]
    started = time.monotonic()
    try:
        connection = psycopg2.connect(
            dbname=db["NAME"], user=db.get("USER") or None, password=db.get("PASSWORD") or None,
            host=db.get("HOST") or None, port=db.get("PORT") or None, connect_timeout=PROBE_TIMEOUT_SECONDS,
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        finally:
            connection.close()
    except psycopg2.Error as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def check_broker() -> dict:
    started = time.monotonic()
    try:
        client = redis.Redis.from_url(
            settings.CELERY_BROKER_URL,
            socket_connect_timeout=PROBE_TIMEOUT_SECONDS, socket_timeout=PROBE_TIMEOUT_SECONDS,
        )
        try:
            client.ping()
        finally:
            client.close()
    except (redis.exceptions.RedisError, ValueError, TypeError) as exc:
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}
