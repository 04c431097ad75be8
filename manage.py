#!/usr/bin/env python
"""Django's command-line utility. Starts the embedded PostgreSQL/Redis when no URLs are set."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")
    if not os.environ.get("DATABASE_URL") or not os.environ.get("CELERY_BROKER_URL"):
        import signal

        from crm_project.embedded import ensure_services

        ensure_services()  # this process owns the servers; they stop when it exits (atexit)
        # Make SIGTERM unwind through atexit too, so the embedded servers are not left running.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
