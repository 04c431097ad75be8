"""The audit log's admin list at a million rows: page time with the capped count against a full COUNT(*).

Fills the audit table up to ``--rows`` (unsealed rows written with one INSERT ... SELECT, action
codes drawn from the registered labels, actors from 50 bench users), then requests the admin list
(as a superuser, through the Django test client, in-process) unfiltered, filtered by action,
by actor and by date, and times the full-table COUNT(*) the stock changelist would run on every
page view. The log is append-only: run it on a benchmark database, never production.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_1m MFA_REQUIRED_ROLES= \
    .venv/bin/python bench/audit_admin_bench.py --rows 1000000
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

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from core import audit  # noqa: E402
from core.models import AuditEvent  # noqa: E402

URL = "/admin/core/auditevent/"


def fill(rows: int) -> int:
    """Add rows until the table holds ``rows``; return how many it holds."""
    users = [get_user_model().objects.get_or_create(username=f"bench_audit_{i}",
                                                    defaults={"first_name": "伟", "last_name": f"张{i}"})[0]
             for i in range(50)]
    existing = AuditEvent.objects.count()
    missing = rows - existing
    if missing > 0:
        actions = [action for action, _label in audit.audit_action_choices()]
        with connection.cursor() as cursor:
            cursor.execute("""
                INSERT INTO core_auditevent (occurred_at, actor_id, actor_label, action, target_type, target_id,
                                             detail, ip_address, request_id, prev_hash, hash)
                SELECT now() - make_interval(secs => (%(n)s - g) * 30),
                       (%(user_ids)s::bigint[])[1 + g %% 50], 'bench_audit_' || (g %% 50),
                       (%(actions)s::text[])[1 + g %% %(n_actions)s], 'customers.customer', (g %% 100000)::text,
                       jsonb_build_object('matches', g %% 7), NULL, '', '', ''
                  FROM generate_series(1, %(n)s) AS g
            """, {"n": missing, "user_ids": [u.pk for u in users], "actions": actions, "n_actions": len(actions)})
    return AuditEvent.objects.count()


def timed(client: Client, params: dict, repeat: int) -> float:
    """Median milliseconds of ``repeat`` requests (after one warm-up)."""
    client.get(URL, params)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(URL, params)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    total = fill(args.rows)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE core_auditevent")
    superuser, _ = get_user_model().objects.get_or_create(username="bench_audit_root",
                                                          defaults={"is_superuser": True, "is_staff": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(superuser)
    one_actor = get_user_model().objects.get(username="bench_audit_7").pk
    figures = {
        "list, no filter": timed(client, {}, args.repeat),
        "filtered by action": timed(client, {"action": audit.audit_action_choices()[3][0]}, args.repeat),
        "filtered by actor": timed(client, {"actor": str(one_actor)}, args.repeat),
        "filtered by date (since 2000-01-01)": timed(client, {"occurred_at__gte": "2000-01-01T00:00:00+08:00"},
                                                     args.repeat),
    }
    start = time.perf_counter()
    AuditEvent.objects.count()
    full_count_ms = (time.perf_counter() - start) * 1000
    print(f"audit rows: {total:,}")
    for job, ms in figures.items():
        print(f"admin audit list, {job}: {ms:,.0f} ms (median of {args.repeat})")
    print(f"full-table COUNT(*) the stock changelist runs per page view: {full_count_ms:,.0f} ms")


if __name__ == "__main__":
    main()
