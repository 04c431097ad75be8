"""One entry point for `make run` and `make test`.

    python -m crm_project.launch run            # migrate, seed demo data, serve (gunicorn) + worker + beat
    python -m crm_project.launch test [ARGS]    # run pytest with ARGS (in parallel: -n auto)
    python -m crm_project.launch exec -- CMD    # run any command with the services up

Servers not given by DATABASE_URL / CELERY_BROKER_URL are started embedded (crm_project/embedded.py)
and owned by this process: when it ends (Ctrl-C included) every child and server stops.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from crm_project.embedded import BASE_DIR, EmbeddedServices

PYTHON = sys.executable
GUNICORN_CONFIG = BASE_DIR / "crm_project" / "gunicorn.conf.py"
CHILD_STOP_TIMEOUT_SECONDS = 15


def _log(message: str) -> None:
    print(f"[crm] {message}", flush=True)


def _call(command: list[str], env: dict[str, str]) -> int:
    """Run a child to completion; if we are interrupted or terminated, stop it first."""
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env)  # noqa: S603
    try:
        return process.wait()
    except BaseException:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(CHILD_STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        raise


def _manage(*args: str, env: dict[str, str]) -> None:
    code = _call([PYTHON, "manage.py", *args], env)
    if code != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed with exit code {code}")


def _start(name: str, command: list[str], env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    _log(f"starting {name}: {' '.join(command)}")
    # Each child gets its own process group so it and its own children stop together.
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)  # noqa: S603
    return name, process


def _stop_all(children: list[tuple[str, subprocess.Popen]]) -> None:
    for _name, process in children:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + CHILD_STOP_TIMEOUT_SECONDS
    for name, process in children:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _log(f"{name} did not stop in time; killing it")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Throttles must count across gunicorn workers: the cache shares the broker's (embedded) Redis.
    if not env.get("CACHE_URL") and env.get("CELERY_BROKER_URL", "").startswith("redis"):
        env["CACHE_URL"] = env["CELERY_BROKER_URL"]
    return env


def run(args: argparse.Namespace) -> int:
    env = _child_env()
    _manage("migrate", "--noinput", env=env)
    # --repair: a seed interrupted last time (Ctrl-C during the first start) is wiped and redone.
    _manage("seed_demo", "--if-empty", "--repair", env=env)
    secrets_file = Path(env.get("CRM_VAR_DIR") or BASE_DIR / "var") / "demo-secrets.json"
    if secrets_file.exists() and not os.environ.get("PII_ENCRYPTION_KEYS"):
        _log(f"demo secrets (SECRET_KEY, PII keys) were generated and are kept in {secrets_file}")
    address = f"{args.host}:{args.port}"
    children = [
        # gunicorn as in production: bounded workers x threads, so bounded database connections.
        _start("web", [PYTHON, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG), "--bind", address,
                       "crm_project.wsgi:application"], env),
        _start("worker", [PYTHON, "-m", "celery", "-A", "crm_project", "worker", "--loglevel", "INFO",
                          "--concurrency", "2", "-Q", "default,scoring,reports"], env),
        _start("beat", [PYTHON, "-m", "celery", "-A", "crm_project", "beat", "--loglevel", "INFO"], env),
    ]
    _log(f"serving on http://{address}/ - press Ctrl-C to stop everything")
    stop_requested = False

    def request_stop(signum, frame):
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        while not stop_requested:
            for name, process in children:
                if process.poll() is not None:
                    _log(f"{name} exited with code {process.returncode}; stopping the rest")
                    exit_code = process.returncode or 1
                    stop_requested = True
                    break
            time.sleep(0.5)
    finally:
        _log("stopping web, worker and beat")
        _stop_all(children)
    return exit_code


def _pytest_args(rest: list[str]) -> list[str]:
    """pytest's arguments: in parallel on every core (pytest-xdist, one test database per worker)
    unless the caller chose (``-n 0`` runs serially, ``-p no:xdist`` without the plugin)."""
    chose = any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) or arg == "no:xdist" for arg in rest)
    if chose:
        return rest
    return ["-n", os.environ.get("CRM_TEST_WORKERS", "auto"), *rest]


def run_tests(args: argparse.Namespace) -> int:
    env = _child_env()
    env["DJANGO_SETTINGS_MODULE"] = "crm_project.settings.test"
    return _call([PYTHON, "-m", "pytest", *_pytest_args(args.rest)], env)


def run_exec(args: argparse.Namespace) -> int:
    command = [part for part in args.rest if part != "--"]
    if not command:
        _log("exec needs a command")
        return 2
    return _call(command, _child_env())


def _raise_system_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_project.launch")
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="migrate, seed demo data and serve with worker and beat")
    run_parser.add_argument("--host", default=os.environ.get("CRM_HOST", "127.0.0.1"))
    run_parser.add_argument("--port", default=os.environ.get("CRM_PORT", "8000"))
    sub.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    sub.add_parser("exec", help="run a command with the services up")
    args, rest = parser.parse_known_args(argv)
    args.rest = rest
    # SIGTERM (e.g. from a supervisor or `timeout`) unwinds like Ctrl-C, so the servers we own stop.
    signal.signal(signal.SIGTERM, _raise_system_exit)

    services = EmbeddedServices()
    started = services.start()
    for name in started:
        _log(f"embedded {name.split('_')[0].lower()} started for this run ({name} not set)")
    try:
        if args.command == "run":
            return run(args)
        if args.command == "test":
            return run_tests(args)
        return run_exec(args)
    finally:
        services.stop()
        if started:
            _log("embedded servers stopped")


if __name__ == "__main__":
    sys.exit(main())
