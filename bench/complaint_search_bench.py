"""The complaint queue's search (POST /complaints/) at a million complaints. Run by hand, never in CI.

With ``--generate`` it fills the database as bench/complaints_bench.py does (1,000,000 complaints on
the seeded customers), then gives every fifth complaint a walk-in contact phone index (random
digests, and one known phone on 30 complaints) so the blind index has realistic selectivity. It
then times the whole request (in-process, full middleware) for a branch desk and for head office:
phone (walk-in or linked customer), name (contains), reference prefix.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_cmp MFA_REQUIRED_ROLES=
    .venv/bin/python manage.py seed_demo --customers 2000 --if-empty
    .venv/bin/python bench/complaint_search_bench.py --generate
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

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import User  # noqa: E402
from bench import complaints_bench  # noqa: E402
from complaints.models import Complaint  # noqa: E402
from core import crypto  # noqa: E402
from customers.models import Customer  # noqa: E402

KNOWN_PHONE = "13766660000"


def mark_walk_ins() -> None:
    digest = crypto.blind_index(kind="phone", value=KNOWN_PHONE)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE complaints_complaint SET contact_phone_bidx = md5(id::text) || md5(reference) "
                       "WHERE id % 5 = 0")
        cursor.execute("UPDATE complaints_complaint SET contact_phone_bidx = %s, contact_name = '周敏' "
                       "WHERE id IN (SELECT id FROM complaints_complaint ORDER BY id LIMIT 30)", [digest])
        cursor.execute("VACUUM ANALYZE complaints_complaint")


def timed(client: Client, data: dict, repeat: int) -> tuple[float, int]:
    client.post("/complaints/", data)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.post("/complaints/", data)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(samples), response.content.decode().count('<th scope="row"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--generate", action="store_true")
    parser.add_argument("--mark", action="store_true", help="only (re)mark walk-in phone indexes")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.generate:
        complaints_bench.generate()
    if args.generate or args.mark:
        mark_walk_ins()
    customer = Customer.objects.filter(complaints__isnull=False).order_by("id").first()
    branch_id = customer.branch_id
    desk = User.objects.filter(groups__name="complaint_desk", branch_id=branch_id).first() or \
        User.objects.filter(groups__name="complaint_desk").first()
    auditor = User.objects.filter(groups__name="compliance_auditor").first()
    print(f"complaints: {Complaint.objects.count():,}")
    for label, user in (("branch desk", desk), ("head office (auditor)", auditor)):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(user)
        for job, data in (("phone, walk-in", {"phone": KNOWN_PHONE}),
                          ("phone, linked customer", {"phone": customer.phone}),
                          ("name contains", {"name": customer.name[1:]}),
                          ("name, no match (worst case)", {"name": "欧阳不存在"}),
                          ("reference prefix (a day)", {"reference": Complaint.objects.order_by("-id")
                                                        .values_list("reference", flat=True).first()[:10]})):
            ms, rows = timed(client, data, args.repeat)
            print(f"search {job}, {label}: {ms:,.0f} ms (median of {args.repeat}), {rows} rows on the page")


if __name__ == "__main__":
    main()
