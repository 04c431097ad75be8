"""Benchmark for record sharing (issue 10, point 8). Run by hand, never in CI.

Question: does adding "customers shared with me" to an RM's customer scope keep the list query
within 2x the plain owner-FK query? The scoped query is ``customer_list_visible_to(user=rm,
shared=True)`` (accounts.scope: ``relationship_manager_id IN (...) OR id IN (SELECT
content_object_id FROM <guardian direct-FK table> WHERE user_id = ... AND ends_on >= today)``);
the baseline is the same query with a plain ``WHERE relationship_manager_id = rm``, on the same
data, in the same run. Measured (PostgreSQL execution time, EXPLAIN ANALYZE, median):

  * the list page: first 50 by name (what "My customers" reads);
  * the count (what the paginator reads for an RM);
  * the whole scoped id set.

Correctness, checked before timing and fatal (exit 1): the selector's id set must equal a
hand-written SQL statement computing the same set (owner-FK ids UNION the ids of shares in force),
and differ from the owner-FK set by exactly the customers granted in force: no expired share, no
revoked share, no other customer.

The RM gets ``--grants`` shares in force (customers of other RMs, other branches), plus as many
expired and revoked shares that must not count. All rows the benchmark adds are deleted at the
end, so the database is left as found.

Data: the database in DATABASE_URL. With ``--synthetic N`` and fewer than N customers, it first
inserts synthetic customers with one SQL statement (FK columns, names, statuses; no PII, no
holdings) at seed_demo's book size (CUSTOMERS_PER_RM per RM), each RM's book in the RM's branch; that seeding is
quick but is not seed_demo's data, and the report says which one ran. In ``make bench`` it runs
on the seeded ``crm_bench_<scale>`` database.

    DJANGO_SETTINGS_MODULE=crm_project.settings.local \
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_sharing CELERY_BROKER_URL=redis://127.0.0.1:6379/11 \
    .venv/bin/python bench/sharing_bench.py --synthetic 100000 --grants 50 --repeats 30
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.contrib.auth.models import Group, Permission  # noqa: E402
from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts import scope  # noqa: E402
from accounts.models import Branch, RecordShare, Role, User  # noqa: E402
from accounts.selectors import relationship_manager_ids_acting_for  # noqa: E402
from bench.suite import Figure, Run, benchmark  # noqa: E402
from core import context as request_context  # noqa: E402
from crm_project.demo.generate import CUSTOMERS_PER_RM  # noqa: E402
from customers import selectors  # noqa: E402
from customers.models import Customer, CustomerUserObjectPermission  # noqa: E402

PAGE_SIZE = 50
SYNTHETIC_BRANCHES = 10
SYNTHETIC_PREFIX = "bench-share"

# The hand-written baseline for correctness: exactly the set the scope must return.
REFERENCE_SQL = """
SELECT id FROM customers_customer WHERE relationship_manager_id = ANY(%(rm_ids)s)
UNION
SELECT content_object_id FROM customers_customeruserobjectpermission
WHERE user_id = %(user_id)s AND ends_on >= %(today)s
"""


class SharingBenchFailed(RuntimeError):
    """The scoped query returned a different set of customers than the reference."""


def explain_ms(sql: str, params, repeats: int) -> float:
    samples = []
    with connection.cursor() as cursor:
        for _ in range(repeats):
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params)
            samples.append(cursor.fetchone()[0][0]["Execution Time"])
    return statistics.median(samples)


def plan_text(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


# --- Data -----------------------------------------------------------------------------------------


def synthetic_seed(customers: int) -> float:
    """Top the customer table up to ``customers`` rows with one INSERT ... SELECT; return seconds."""
    missing = customers - Customer.objects.count()
    if missing <= 0:
        return 0.0
    started = time.perf_counter()
    rm_group, _ = Group.objects.get_or_create(name=Role.RELATIONSHIP_MANAGER)
    branches = [Branch.objects.get_or_create(code=f"BS{n:03d}", defaults={"name": f"Bench branch {n}"})[0]
                for n in range(SYNTHETIC_BRANCHES)]
    rm_count = max(2, -(-customers // CUSTOMERS_PER_RM))
    rms = []
    for n in range(rm_count):
        rm, created = User.objects.get_or_create(username=f"{SYNTHETIC_PREFIX}-rm{n}",
                                                 defaults={"branch": branches[n % SYNTHETIC_BRANCHES]})
        if created:
            rm.groups.add(rm_group)
        rms.append(rm)
    start = Customer.objects.order_by("-id").values_list("id", flat=True).first() or 0
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customer (
                external_id, name, gender, occupation, status, closed_reason, credit_rating, risk_tolerance,
                consent_data_processing, consent_marketing, consent_channel, preferred_channel,
                created_at, updated_at, branch_id, relationship_manager_id, region)
            SELECT 'BS' || lpad((%(start)s + n)::text, 10, '0'), substr(md5(n::text), 1, 12), 'unknown', '',
                   'active', '', '', '', 'unknown', 'unknown', 'unknown', '', now(), now(),
                   (%(branch_ids)s::bigint[])[1 + (n %% %(rms)s)],
                   (%(rm_ids)s::bigint[])[1 + (n %% %(rms)s)], ''
            FROM generate_series(1, %(missing)s) AS n
            """,
            {"start": start, "missing": missing,
             "branch_ids": [rm.branch_id for rm in rms], "rm_ids": [rm.pk for rm in rms], "rms": len(rms)},
        )
        cursor.execute("ANALYZE customers_customer")
    return time.perf_counter() - started


def largest_book_rm() -> User:
    """The RM with the most customers: the heaviest owner-FK list."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relationship_manager_id FROM customers_customer "
                       "WHERE relationship_manager_id IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        return User.objects.get(pk=cursor.fetchone()[0])


def add_grants(rm: User, grants: int) -> dict:
    """Share ``grants`` customers of other RMs with ``rm`` (in force), plus as many expired and revoked.

    Rows are written straight to the tables (the service's audit and checks are not what is
    measured); ``remove_grants`` deletes them.
    """
    today = timezone.localdate()
    other_ids = list(Customer.objects.exclude(relationship_manager_id=rm.pk).exclude(relationship_manager=None)
                     .order_by("?").values_list("id", flat=True)[: grants * 3]) if grants else []
    if len(other_ids) < grants * 3:
        raise SharingBenchFailed(f"need {grants * 3} customers of other RMs, found {len(other_ids)}")
    sharer = User.objects.exclude(pk=rm.pk).filter(groups__name=Role.RELATIONSHIP_MANAGER).first()
    content_type = ContentType.objects.get_for_model(Customer)
    view = Permission.objects.get(content_type=content_type, codename="view_customer")
    in_force, expired, revoked = other_ids[:grants], other_ids[grants:2 * grants], other_ids[2 * grants:]
    now = timezone.now()
    with transaction.atomic():
        shares = RecordShare.objects.bulk_create(
            [RecordShare(content_type=content_type, object_id=pk, shared_with=rm, shared_by=sharer,
                         reason="bench", ends_on=today + timedelta(days=7)) for pk in in_force]
            + [RecordShare(content_type=content_type, object_id=pk, shared_with=rm, shared_by=sharer,
                           reason="bench", ends_on=today - timedelta(days=1)) for pk in expired]
            + [RecordShare(content_type=content_type, object_id=pk, shared_with=rm, shared_by=sharer,
                           reason="bench", ends_on=today + timedelta(days=7), revoked_at=now, revoked_by=sharer)
               for pk in revoked]
        )
        # Guardian rows: the ones in force, and the expired ones (not yet purged: the scope must skip
        # them by date). A revoked share has no row (record_share_revoke deletes it).
        CustomerUserObjectPermission.objects.bulk_create(
            [CustomerUserObjectPermission(user=rm, permission=view, content_object_id=share.object_id,
                                          share=share, ends_on=share.ends_on)
             for share in shares if share.revoked_at is None]
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customeruserobjectpermission")
    return {"in_force": set(in_force), "expired": set(expired), "revoked": set(revoked),
            "share_ids": [share.pk for share in shares]}


def remove_grants(added: dict) -> None:
    with transaction.atomic():
        CustomerUserObjectPermission.objects.filter(share_id__in=added["share_ids"]).delete()
        RecordShare.objects.filter(pk__in=added["share_ids"]).delete()


# --- Checks and timings -----------------------------------------------------------------------


def check_same_rows(rm: User, added: dict) -> dict:
    """Fail unless the selector returns the owner-FK set plus exactly the customers shared in force."""
    scoped_ids = set(selectors.customer_list_visible_to(user=rm, shared=True).values_list("id", flat=True))
    owner_ids = set(Customer.objects.filter(relationship_manager_id=rm.pk).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(REFERENCE_SQL, {"rm_ids": relationship_manager_ids_acting_for(user=rm), "user_id": rm.pk,
                                       "today": timezone.localdate()})
        reference_ids = {row[0] for row in cursor.fetchall()}
    problems = []
    if scoped_ids != reference_ids:
        problems.append(f"selector vs reference SQL: {len(scoped_ids - reference_ids)} extra, "
                        f"{len(reference_ids - scoped_ids)} missing")
    if scoped_ids - owner_ids != added["in_force"]:
        problems.append(f"beyond the owner's book the selector returns {len(scoped_ids - owner_ids)} customers, "
                        f"expected exactly the {len(added['in_force'])} shared in force")
    if scoped_ids & (added["expired"] | added["revoked"]):
        problems.append("an expired or revoked share still counts")
    if problems:
        raise SharingBenchFailed("; ".join(problems))
    return {"owner_rows": len(owner_ids), "scoped_rows": len(scoped_ids), "granted_rows": len(added["in_force"])}


def _listing(rm: User):
    """The "My customers" list as the page builds it (no search, ordered by name)."""
    def build(*, shared: bool):
        return selectors.customer_search_visible_to(user=rm, query="", shared=shared).for_listing()
    return build


def check_same_pages(rm: User) -> None:
    """Fail unless the two-step pages equal slicing the whole list (first page and a deeper one)."""
    build = _listing(rm)
    pages = selectors.customer_list_pages(user=rm, build=build)
    for bottom in (0, 2 * PAGE_SIZE):
        two_step = [customer.pk for customer in pages[bottom:bottom + PAGE_SIZE]]
        direct = list(build(shared=True).values_list("pk", flat=True)[bottom:bottom + PAGE_SIZE])
        if two_step != direct:
            raise SharingBenchFailed(f"page at offset {bottom}: the two-step read differs from the list")


def _page_steps(rm: User) -> list[tuple[str, tuple]]:
    """The SQL statements "My customers" runs for its first page, in order (count aside)."""
    build = _listing(rm)
    shares = CustomerUserObjectPermission.objects.filter(user_id=rm.pk, ends_on__gte=timezone.localdate())
    steps = [shares.values_list("content_object_id").query.sql_with_params()]
    shared_ids = list(shares.values_list("content_object_id", flat=True))
    if not shared_ids:
        return [*steps, build(shared=False)[:PAGE_SIZE].query.sql_with_params()]
    candidates = scope.in_subquery("pk", build(shared=False).values("pk")[:PAGE_SIZE]) | Q(pk__in=shared_ids)
    return [*steps, build(shared=True).filter(candidates)[:PAGE_SIZE].query.sql_with_params()]


def _count_steps(rm: User) -> list[tuple[str, tuple]]:
    """The SQL statement "My customers" runs for its count: the owner-FK count with no share in force,
    else the very statement of CustomerListWithShares.count (own count + shared outside the own scope)."""
    pages = selectors.customer_list_pages(user=rm, build=_listing(rm))
    if isinstance(pages, selectors.CustomerListWithShares):
        return [pages.count_statement()]
    sql, params = pages.order_by().values("id").query.sql_with_params()
    return [(f"SELECT count(*) FROM ({sql}) AS scoped", params)]


def time_queries(rm: User, repeats: int) -> dict:
    """Execution time of the page, the count and the whole id set: selector against owner-FK.

    The page is what "My customers" reads for its first 50 by name: the lookup of the shares in
    force, then either the plain list (none) or the two-step read (customer_list_pages); its
    figure is the sum of those statements.
    """
    def scoped():
        return selectors.customer_list_visible_to(user=rm, shared=True)

    def plain():
        return Customer.objects.select_related("branch", "relationship_manager").filter(relationship_manager_id=rm.pk)

    page_steps = _page_steps(rm)
    plain_page = plain().for_listing().order_by("name", "id")[:PAGE_SIZE].query.sql_with_params()
    pairs = {
        "page": (page_steps, [plain_page]),
        "count": (_count_steps(rm), [plain().order_by().values("id").query.sql_with_params()]),
        "ids": ([scoped().order_by().values_list("id").query.sql_with_params()],
                [plain().order_by().values_list("id").query.sql_with_params()]),
    }
    timings = {}
    for name, (scoped_steps, plain_steps) in pairs.items():
        if name == "count":  # the scoped steps are count statements already
            plain_steps = [(f"SELECT count(*) FROM ({sql}) AS plain", params) for sql, params in plain_steps]

        def run(steps) -> float:
            return sum(explain_ms(sql, params, 1) for sql, params in steps)

        for _ in range(3):  # warm the cache for both
            run(scoped_steps)
            run(plain_steps)
        # Alternate so a load spike on the shared host hits both sides alike.
        scoped_samples, plain_samples = [], []
        for _ in range(repeats):
            scoped_samples.append(run(scoped_steps))
            plain_samples.append(run(plain_steps))
        timings[name] = {"selector_ms": round(statistics.median(scoped_samples), 3),
                         "owner_fk_ms": round(statistics.median(plain_samples), 3),
                         "ratio": round(statistics.median(scoped_samples) / statistics.median(plain_samples), 2)}
        if name == "page":
            timings["page_plan"] = "\n\n".join(plan_text(sql, params) for sql, params in scoped_steps)
    timings["page_end_to_end"] = time_page_end_to_end(rm, repeats)
    return timings


def time_page_end_to_end(rm: User, repeats: int) -> dict:
    """Python time of what the paginator does for the first page (count, then the 50 rows as model instances),
    through customer_list_pages, against the same with the plain owner-FK list; each read in a request's
    context (lookups the page repeats are read once, core.context.request_cached)."""
    build = _listing(rm)

    def shared_page():
        pages = selectors.customer_list_pages(user=rm, build=build)
        return pages.count(), list(pages[0:PAGE_SIZE])

    def plain_page():
        plain = (Customer.objects.select_related("branch", "relationship_manager").for_listing()
                 .filter(relationship_manager_id=rm.pk).order_by("name", "id"))
        return plain.count(), list(plain[:PAGE_SIZE])

    samples: dict[str, list[float]] = {"shared": [], "plain": []}
    for round_number in range(repeats + 3):  # three warm-up rounds, then alternate
        for name, read in (("shared", shared_page), ("plain", plain_page)):
            token = request_context.bind(request_context.RequestContext(cache={}))  # as in a request
            started = time.perf_counter()
            read()
            request_context.reset(token)
            if round_number >= 3:
                samples[name].append((time.perf_counter() - started) * 1000)
    shared_ms, plain_ms = statistics.median(samples["shared"]), statistics.median(samples["plain"])
    return {"selector_ms": round(shared_ms, 3), "owner_fk_ms": round(plain_ms, 3),
            "ratio": round(shared_ms / plain_ms, 2)}


def measure(*, grants: int, repeats: int) -> dict:
    rm = largest_book_rm()
    added = add_grants(rm, grants)
    try:
        rows = check_same_rows(rm, added)
        check_same_pages(rm)
        timings = time_queries(rm, repeats)
    finally:
        remove_grants(added)
    return {"customers_total": Customer.objects.count(), "rm": rm.username, "grants_in_force": grants,
            "expired_and_revoked": len(added["expired"]) + len(added["revoked"]), **rows, **timings}


@benchmark("sharing")
def run_benchmark(run: Run) -> list[Figure]:
    """The RM list scope with and without shares against the plain owner-FK query; fails on a wrong row set."""
    grants = run.options.get("grants", 50)
    repeats = max(15, run.options.get("requests", 60) // 2)
    figures = []
    for count in (0, grants):
        report = measure(grants=count, repeats=repeats)
        note = f"{report['owner_rows']:,} own + {count} shared (of {report['customers_total']:,})"
        figures += [
            # Reported without a target: with shares the page is read in three statements (the shares in
            # force, the first own ids, the page among those and the shared ids) against one index range.
            # The scope's targets are the count in the database and the page end to end (issue 17).
            Figure(job=f"shared scope, list page in the database ({count} shares)",
                   figure=report["page"]["selector_ms"], unit="ms", baseline=report["page"]["owner_fk_ms"],
                   baseline_label="owner-FK WHERE", target=None, note=note),
            Figure(job=f"shared scope, first page end to end: count + 50 rows ({count} shares)",
                   figure=report["page_end_to_end"]["selector_ms"], unit="ms",
                   baseline=report["page_end_to_end"]["owner_fk_ms"], baseline_label="owner-FK list",
                   target=("ratio<=", 2)),
            Figure(job=f"shared scope, count ({count} shares)", figure=report["count"]["selector_ms"], unit="ms",
                   baseline=report["count"]["owner_fk_ms"], baseline_label="owner-FK WHERE", target=("ratio<=", 2)),
        ]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="first top the customer table up to N synthetic customers (one INSERT ... SELECT)")
    parser.add_argument("--grants", type=int, nargs="+", default=[0, 50])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    seed_seconds = synthetic_seed(args.synthetic) if args.synthetic else 0.0
    reports = []
    try:
        for grants in args.grants:
            reports.append(measure(grants=grants, repeats=args.repeats))
    except SharingBenchFailed as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    for report in reports:
        plan = report.pop("page_plan")
        print(json.dumps(report, indent=2))
        print(f"customers: {report['customers_total']:,}; {report['rm']} owns {report['owner_rows']:,}, "
              f"+{report['granted_rows']} shared in force ({report['expired_and_revoked']} expired/revoked ignored); "
              f"same rows as the reference SQL: yes")
        for name in ("page", "count", "ids"):
            figures = report[name]
            print(f"  {name:5s}: selector {figures['selector_ms']:.3f} ms, owner-FK {figures['owner_fk_ms']:.3f} ms, "
                  f"ratio {figures['ratio']:.2f}")
    print("plans of the list page's statements (last run):\n" + plan)
    if seed_seconds:
        print(f"synthetic seeding took {seed_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
