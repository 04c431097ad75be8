"""The "My next steps" page on a seeded database: server time per filter for an RM and a branch manager.

Run by hand on a database seeded with seed_demo (e.g. --customers 100000); in-process requests through
the full middleware stack, median of ``--repeat`` after one warm-up.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_100k MFA_REQUIRED_ROLES= \
    .venv/bin/python bench/next_steps_bench.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.test import Client  # noqa: E402

from accounts.models import User  # noqa: E402
from customers.models import Interaction  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with_steps = Interaction.objects.filter(next_step_due_on__isnull=False).count()
    print(f"interactions: {Interaction.objects.count():,}, with a next step due: {with_steps:,}")
    for username in ("rm1", "manager1"):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(username=username))
        for when in ("all", "overdue", "week"):
            client.get("/customers/next-steps/", {"when": when})
            samples = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                response = client.get("/customers/next-steps/", {"when": when})
                samples.append((time.perf_counter() - start) * 1000)
            rows = response.content.decode().count("data-group=")
            print(f"next steps, {username}, {when}: {statistics.median(samples):,.0f} ms "
                  f"(median of {args.repeat}), {rows} rows on the page")


if __name__ == "__main__":
    main()
