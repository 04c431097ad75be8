"""Load generated demo customers into PostgreSQL with COPY, chunk by chunk.

Ids: the customer ids of a whole run are reserved up front as one contiguous block of the
table's identity sequence (``_customer_ids_reserve``), so every chunk knows its customers' ids
before anything is written and the holdings, transactions and interactions of a chunk can be
generated in a worker process in one go, with no round trip to read ids back. The child tables
keep their own identity defaults (COPY leaves their id column out).

Each chunk is one transaction: COPY customers, holdings, transactions, interactions, commit.
Generation runs in a pool of worker processes when asked; the main process only copies, in
chunk order, with a bounded number of chunks in flight so memory stays flat whatever the
number of customers.

Foreign keys: the deferred checks cost about 40 % of the load time of a transaction row
(one index probe of the customer per row at commit). The rows reference only customers of
the same transaction (ids from the reserved block) and branches, staff and products read just
before, so they hold by construction; when the session may (superuser) and the tables carry no
trigger of our own, a chunk is copied with ``session_replication_role = replica``, which skips
the foreign-key triggers the way ``pg_restore --disable-triggers`` does. Otherwise the checks run.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

from django.db import connection, transaction
from django.utils import timezone

from crm_project.demo import generate, staff
from customers.models import Customer, Holding, Interaction, Product, Transaction

TABLES = {
    "customers": (Customer, generate.CUSTOMER_COLUMNS),
    "holdings": (Holding, generate.HOLDING_COLUMNS),
    "transactions": (Transaction, generate.TRANSACTION_COLUMNS),
    "interactions": (Interaction, generate.INTERACTION_COLUMNS),
}
IN_FLIGHT_PER_WORKER = 2
MAX_DEFAULT_WORKERS = 2


class DemoSeedError(Exception):
    """The demo data cannot be seeded as asked (e.g. this seed's customers already exist)."""


@dataclass
class SeedProgress:
    customers_done: int
    customers_total: int
    rows: Counter
    elapsed_seconds: float


@dataclass
class SeedSummary:
    customers: int = 0
    relationship_managers: int = 0
    products: int = 0
    rows: Counter = field(default_factory=Counter)
    segments: Counter = field(default_factory=Counter)
    defects: Counter = field(default_factory=Counter)
    workers: int = 1
    foreign_key_checks: bool = True
    elapsed_seconds: float = 0.0


def workers_default(customers: int) -> int:
    """Two generator processes when there are two chunks or more and a CPU for each.

    Forking is cheap on Linux, and with two processes the next chunk is generated while this
    process copies the last one. Elsewhere (macOS: fork is unsafe there) generate in-process.
    """
    if sys.platform != "linux" or customers <= generate.CHUNK_CUSTOMERS:
        return 1
    return max(1, min(MAX_DEFAULT_WORKERS, os.cpu_count() or 1))


def demo_is_seeded() -> bool:
    """Whether demo data (any customer) is present: `seed_demo --if-empty` then does nothing."""
    return Customer.objects.exists()


def _copy_sql(name: str) -> str:
    model, columns = TABLES[name]
    quote = connection.ops.quote_name
    # Identifiers come from model metadata and constants, never from input.
    column_list = ", ".join(quote(column) for column in columns)
    return f"COPY {quote(model._meta.db_table)} ({column_list}) FROM STDIN WITH (FORMAT csv)"


def _customer_ids_reserve(count: int) -> int:
    """Take `count` consecutive ids from the customer id sequence; return the first.

    The EXCLUSIVE lock keeps concurrent inserts (the only other users of the sequence) from
    drawing a value between our nextval and setval; it is held for two statements.
    """
    table = Customer._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {connection.ops.quote_name(table)} IN EXCLUSIVE MODE")
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
        (sequence,) = cursor.fetchone()
        cursor.execute("SELECT setval(%s::regclass, nextval(%s::regclass) + %s - 1)",
                       [sequence, sequence, count])
        (last_id,) = cursor.fetchone()
    return last_id - count + 1


def _foreign_key_triggers_skippable() -> bool:
    """Whether this session may skip the FK triggers and no other trigger would be skipped."""
    tables = [model._meta.db_table for model, _columns in TABLES.values()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser') = 'on'")
        (superuser,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal AND tgrelid = ANY(%s::regclass[])",
            [tables],
        )
        (own_triggers,) = cursor.fetchone()
    return bool(superuser) and own_triggers == 0


def _chunk_copy(payload: generate.ChunkPayload, *, skip_foreign_key_triggers: bool) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        # Losing the last chunks on a server crash is fine for demo data; waiting for the
        # WAL flush on every chunk is not.
        cursor.execute("SET LOCAL synchronous_commit TO OFF")
        if skip_foreign_key_triggers:
            cursor.execute("SET LOCAL session_replication_role = replica")
        for name in TABLES:
            data = getattr(payload, name)
            if data:
                cursor.copy_expert(_copy_sql(name), io.BytesIO(data))
        if skip_foreign_key_triggers:
            # Inside an outer transaction (tests) SET LOCAL would outlive this block.
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")


_worker_plan: generate.SeedPlan | None = None


def _worker_init(plan: generate.SeedPlan) -> None:
    global _worker_plan
    _worker_plan = plan


def _worker_render(chunk_no: int) -> generate.ChunkPayload:
    return generate.chunk_render(_worker_plan, chunk_no)


def _payloads(plan: generate.SeedPlan, workers: int) -> Iterator[generate.ChunkPayload]:
    """Yield the chunks' payloads in chunk order, generated here or in a pool of workers."""
    if workers <= 1:
        for chunk_no in range(plan.chunks):
            yield generate.chunk_render(plan, chunk_no)
        return
    # fork: workers inherit settings (PII keys included) without re-importing Django. They
    # never use the inherited database connection; only this process talks to PostgreSQL.
    # Pool workers leave through os._exit, so they never close that connection either.
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_init, initargs=(plan,)) as pool:
        pending: deque = deque()
        next_chunk = 0
        while next_chunk < plan.chunks or pending:
            while next_chunk < plan.chunks and len(pending) < workers * IN_FLIGHT_PER_WORKER:
                pending.append(pool.apply_async(_worker_render, (next_chunk,)))
                next_chunk += 1
            yield pending.popleft().get()


def demo_seed(
    *,
    customers: int,
    seed: int,
    password: str,
    months: int = 24,
    transactions_per_month: float = 10,
    as_of: date | None = None,
    workers: int | None = None,
    skip_foreign_key_triggers: bool | None = None,
    progress: Callable[[SeedProgress], None] | None = None,
) -> SeedSummary:
    """Seed branches, staff, products and `customers` customers with 24 months of activity.

    Deterministic for (seed, customers, months, transactions_per_month, as_of): only
    ciphertexts, ids and created_at differ between runs. Not atomic as a whole: each chunk
    commits on its own, so an interrupted run leaves whole chunks behind.
    skip_foreign_key_triggers: None decides by _foreign_key_triggers_skippable().
    """
    if customers < 0 or seed < 0 or months < 1 or transactions_per_month < 0:
        raise DemoSeedError("customers, seed and transactions per month must be >= 0 and months >= 1.")
    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    relationship_managers = generate.relationship_managers_needed(customers)
    staff.demo_seed_staff(password=password, relationship_managers=relationship_managers)
    product_ids = staff.demo_seed_products()
    summary = SeedSummary(customers=customers, relationship_managers=relationship_managers,
                          products=len(product_ids))
    if customers == 0:
        summary.elapsed_seconds = time.monotonic() - started
        return summary
    first_external_id = generate.external_id_for(seed=seed, index=0)
    if Customer.objects.filter(external_id=first_external_id).exists():
        raise DemoSeedError(
            f"Customers of seed {seed} already exist (customer number {first_external_id}); "
            "use another --seed, or --if-empty to keep the data as it is."
        )
    plan = generate.SeedPlan(
        seed=seed, customers=customers, months=months, transactions_per_month=transactions_per_month,
        as_of=as_of, loaded_at=timezone.now().isoformat(),
        first_customer_id=_customer_ids_reserve(customers),
        relationship_managers=tuple(staff.demo_relationship_managers(count=relationship_managers)),
        product_ids=tuple(sorted(product_ids.items())),
    )
    summary.workers = workers or workers_default(customers)
    if skip_foreign_key_triggers is None:
        skip_foreign_key_triggers = _foreign_key_triggers_skippable()
    summary.foreign_key_checks = not skip_foreign_key_triggers
    done = 0
    for payload in _payloads(plan, summary.workers):
        _chunk_copy(payload, skip_foreign_key_triggers=skip_foreign_key_triggers)
        summary.rows.update(payload.rows)
        summary.segments.update(payload.segments)
        summary.defects.update(payload.defects)
        done += payload.rows["customers"]
        if progress:
            progress(SeedProgress(customers_done=done, customers_total=customers, rows=summary.rows,
                                  elapsed_seconds=time.monotonic() - started))
    tables = [model._meta.db_table for model, _columns in TABLES.values()] + [Product._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(table) for table in tables))
    summary.elapsed_seconds = time.monotonic() - started
    return summary
