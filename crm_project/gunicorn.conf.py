"""gunicorn settings for `make run` and production (`gunicorn -c crm_project/gunicorn.conf.py ...`).

Bounded on purpose (issue 16, finding 1): WEB_WORKERS processes x WEB_THREADS threads serve at most
that many requests at once, each thread keeping one persistent database connection (CONN_MAX_AGE),
so the web tier never holds more than WEB_WORKERS x WEB_THREADS connections. Requests beyond that
wait in the listen backlog instead of opening new connections.
"""

import os

from gunicorn.glogging import Logger

from core.logging import redact_secret_paths

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_WORKERS", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
backlog = int(os.environ.get("WEB_BACKLOG", "2048"))
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 10
# Restart workers now and then so a slow leak never takes the site down.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = 500
# No idle keep-alive connections by default: when a worker restarts (max_requests), a request sent on
# a connection it kept open can meet the close and the client sees a connection reset (gunicorn issue
# 3038; the load test saw 24 resets in the seconds a worker restarted, with keep-alive on). Each
# response closes its connection instead; behind the bank's reverse proxy that costs one local TCP
# handshake per request.
keepalive = int(os.environ.get("WEB_KEEPALIVE", "0"))
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms "%(a)s"'


class RedactingLogger(Logger):
    """The access log with survey tokens (and any other secret path segment) replaced by [redacted]."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact_secret_paths(value) if isinstance(value, str) else value for key, value in atoms.items()}


logger_class = RedactingLogger
