"""Load test of the running stack with locust (issue 17). By hand, never in CI.

Against `make run`'s stack on gunicorn, on a database seeded at 100k customers (e.g. crm_bench_100k):
200 RMs (list, search, open a 360, record an interaction), 20 complaint-desk staff (queue, open,
acknowledge), 5 API clients (bulk ingest, customer lookups) and 10 anonymous customers (the
public complaint form, the progress page), for 5 minutes:

    pip install -e ".[bench]"
    LOAD_PASSWORD=<demo password> LOAD_API_KEY=<key with customers:read, transactions:write> \
    LOAD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_100k \
    .venv/bin/locust -f bench/load.py --headless -u 235 -r 20 -t 5m --host http://127.0.0.1:8000 \
        --csv var/load --only-summary

Targets (issue 17): p95 <= 300 ms for every staff page, 0 errors, database connections bounded:
the report at the end prints the p95 per page against 300 ms, the error count and the most
connections seen in pg_stat_activity (sampled every 2 s when LOAD_DATABASE_URL is set). Users
log in as rm1..rmK and desk1 with the demo password (seed_demo prints it). The weights give
the 200 / 20 / 5 / 10 mix of the issue when -u 235.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from datetime import UTC, datetime

from locust import HttpUser, between, events, task

PASSWORD = os.environ.get("LOAD_PASSWORD", "")
API_KEY = os.environ.get("LOAD_API_KEY", "")
RM_COUNT = int(os.environ.get("LOAD_RM_COUNT", "20"))
STAFF_P95_TARGET_MS = 300
CUSTOMER_LINK = re.compile(r'href="/customers/(\d+)/"')
COMPLAINT_LINK = re.compile(r'href="/complaints/([A-Z0-9-]+)/"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
VERSION = re.compile(r'name="expected_version" value="(\d+)"')
connections_seen: list[int] = []


def _login(user: HttpUser, username: str) -> None:
    page = user.client.get("/accounts/login/", name="login page")
    token = CSRF.search(page.text)
    user.client.post("/accounts/login/", {"username": username, "password": PASSWORD,
                                          "csrfmiddlewaretoken": token.group(1) if token else ""},
                     headers={"Referer": f"{user.host}/accounts/login/"}, name="login")


def _post_form(user: HttpUser, url: str, data: dict, *, name: str, page_text: str) -> None:
    token = CSRF.search(page_text)
    user.client.post(url, {**data, "csrfmiddlewaretoken": token.group(1) if token else ""},
                     headers={"Referer": f"{user.host}{url}"}, name=name)


class RelationshipManager(HttpUser):
    weight = 200
    wait_time = between(2, 6)

    def on_start(self) -> None:
        _login(self, f"rm{random.randint(1, RM_COUNT)}")
        self.customer_ids: list[str] = []

    @task(4)
    def my_customers(self) -> None:
        page = self.client.get("/customers/", name="staff: my customers")
        self.customer_ids = CUSTOMER_LINK.findall(page.text) or self.customer_ids

    @task(2)
    def search(self) -> None:
        self.client.get("/customers/", params={"q": random.choice("王李张刘陈")}, name="staff: customer search")

    @task(3)
    def customer_360(self) -> None:
        if self.customer_ids:
            self.client.get(f"/customers/{random.choice(self.customer_ids)}/", name="staff: customer 360")

    @task(1)
    def record_interaction(self) -> None:
        if not self.customer_ids:
            return
        url = f"/customers/{random.choice(self.customer_ids)}/interactions/new/"
        form = self.client.get(url, name="staff: interaction form")
        _post_form(self, url, {"kind": "call", "occurred_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
                               "summary": "负载测试回访", "outcome": "informed"},
                   name="staff: record interaction", page_text=form.text)


class ComplaintDesk(HttpUser):
    weight = 20
    wait_time = between(3, 8)

    def on_start(self) -> None:
        _login(self, "desk1")
        self.references: list[str] = []

    @task(4)
    def queue(self) -> None:
        page = self.client.get("/complaints/", name="staff: complaint queue")
        self.references = COMPLAINT_LINK.findall(page.text) or self.references

    @task(2)
    def acknowledge(self) -> None:
        if not self.references:
            return
        reference = random.choice(self.references)
        detail = self.client.get(f"/complaints/{reference}/", name="staff: complaint detail")
        version = VERSION.search(detail.text)
        if version and 'value="acknowledge"' in detail.text:
            _post_form(self, f"/complaints/{reference}/transitions/",
                       {"action": "acknowledge", "expected_version": version.group(1), "note": "已致电"},
                       name="staff: complaint transition", page_text=detail.text)


class ApiClient(HttpUser):
    weight = 5
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Api-Key {API_KEY}"
        self.batch = 0
        self.external_ids: list[str] = []

    @task(3)
    def lookups(self) -> None:
        page = self.client.get("/api/v1/customers/", params={"page_size": 50}, name="api: customers page")
        if page.ok:
            self.external_ids = [row["external_id"] for row in page.json().get("results", [])] or self.external_ids

    @task(1)
    def bulk_ingest(self) -> None:
        if not self.external_ids:
            return
        self.batch += 1
        stamp = f"LOAD{id(self):x}{self.batch:06d}"
        rows = [{"external_ref": f"{stamp}{n:04d}", "customer_external_id": random.choice(self.external_ids),
                 "occurred_at": datetime.now(UTC).isoformat(), "amount": f"{random.randint(100, 500000) / 100:.2f}",
                 "direction": random.choice(["in", "out"]), "channel": "mobile", "type": "transfer"}
                for n in range(1000)]
        self.client.post("/api/v1/transactions/bulk/", data=json.dumps({"rows": rows}),
                         headers={"Content-Type": "application/json"}, name="api: bulk ingest 1,000 rows")


class AnonymousCustomer(HttpUser):
    weight = 10
    wait_time = between(5, 15)

    @task(2)
    def complaint_form(self) -> None:
        self.client.get("/public/complaints/new/", name="public: complaint form")

    @task(1)
    def progress(self) -> None:
        self.client.get("/public/complaints/", name="public: progress")


def _sample_connections(stop: threading.Event) -> None:
    import psycopg2

    conn = psycopg2.connect(os.environ["LOAD_DATABASE_URL"])
    conn.autocommit = True
    with conn.cursor() as cursor:
        while not stop.is_set():
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
            connections_seen.append(cursor.fetchone()[0])
            time.sleep(2)
    conn.close()


_stop_sampling = threading.Event()


@events.test_start.add_listener
def _start_sampling(environment, **kwargs) -> None:
    if os.environ.get("LOAD_DATABASE_URL"):
        threading.Thread(target=_sample_connections, args=(_stop_sampling,), daemon=True).start()


@events.quitting.add_listener
def _report(environment, **kwargs) -> None:
    _stop_sampling.set()
    stats = environment.stats
    print("\nLoad test summary (targets: staff pages p95 <= 300 ms, 0 errors, connections bounded)")
    missed = False
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        p95 = entry.get_response_time_percentile(0.95)
        staff = entry.name.startswith("staff:")
        verdict = ("met" if p95 <= STAFF_P95_TARGET_MS else "MISSED") if staff else ""
        missed |= verdict == "MISSED"
        print(f"  {entry.name:40} {entry.num_requests:6} requests, median {entry.median_response_time:6.0f} ms, "
              f"p95 {p95:6.0f} ms {verdict}")
    errors = stats.total.num_failures
    print(f"  errors: {errors}{' MISSED' if errors else ' met'}")
    if connections_seen:
        print(f"  database connections in use: max {max(connections_seen)}, last {connections_seen[-1]}")
    if missed or errors:
        environment.process_exit_code = 1
