"""Audited writes per second with concurrent clients: the sealer against the old global lock (issue 10.3).

Each client is its own process with its own connection and runs, for ``--seconds``, transactions
of one ``audit_record`` each, committed (synchronous commit, as in production). Two code paths,
measured in the same run on the same database, one after the other:

  * before (reproduced here): the old ``audit_record``, which took ``pg_advisory_xact_lock``, read
    the last row's hash and inserted the row chained, holding the lock until commit, so every
    audited transaction in the bank queued behind the one before it;
  * after: ``core.audit.audit_record`` (insert unsealed, no lock) with its seal after commit.

At the end every row is sealed and the whole chain is verified. Rows are written with action
``bench.audit`` (the log is append-only: run it on a benchmark database, never production).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_10k \
    .venv/bin/python bench/audit_bench.py --clients 8 --seconds 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")

import django

django.setup()

from django.db import connection, connections, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.suite import Figure, Run, benchmark  # noqa: E402
from core import audit  # noqa: E402
from core.models import GENESIS_HASH, AuditEvent  # noqa: E402


def old_audit_record(*, action: str, detail: dict) -> AuditEvent:
    """The audit write as it was before the sealer: one global lock held until commit."""
    event = AuditEvent(occurred_at=timezone.now(), actor_id=None, actor_label="system", action=action,
                       detail=audit._as_stored_json(detail))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [audit.AUDIT_CHAIN_LOCK_KEY])
        head = (AuditEvent.objects.filter(chain_seq__isnull=False).order_by("-chain_seq")
                .values_list("chain_seq", "hash").first())
        seq, prev_hash = head if head else (0, GENESIS_HASH)
        event.chain_seq, event.prev_hash = seq + 1, prev_hash
        event.hash = audit._event_hash(event)
        event.save(force_insert=True)
    return event


def _client(mode: str, client: int, seconds: float, start, counts) -> None:
    connections.close_all()  # the parent's connections are not ours to use after fork
    done = 0
    start.wait()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with transaction.atomic():
            if mode == "before":
                old_audit_record(action="bench.audit", detail={"client": client, "n": done})
            else:
                audit.audit_record(actor=None, action="bench.audit", detail={"client": client, "n": done})
        done += 1
    counts[client] = done
    connections.close_all()


def measure(mode: str, *, clients: int, seconds: float) -> float:
    """Audited transactions per second over all clients."""
    audit.audit_seal()
    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(clients + 1)
    counts = context.Manager().dict()
    processes = [context.Process(target=_client, args=(mode, n, seconds, start, counts)) for n in range(clients)]
    for process in processes:
        process.start()
    start.wait()
    began = time.monotonic()
    for process in processes:
        process.join()
    elapsed = time.monotonic() - began
    if any(process.exitcode for process in processes):
        raise SystemExit(f"{mode}: a client failed")
    return sum(counts.values()) / elapsed


@benchmark("audit")
def run_benchmark(run: Run) -> list[Figure]:
    clients = run.options.get("audit_clients", 8)
    seconds = run.options.get("audit_seconds", 10.0)
    before = measure("before", clients=clients, seconds=seconds)
    after = measure("after", clients=clients, seconds=seconds)
    audit.audit_seal()
    report = audit.audit_chain_verify()
    if not report.ok or report.pending_rows:
        raise SystemExit(f"audit chain after the benchmark: {report}")
    return [Figure(job=f"audited writes, {clients} concurrent clients", figure=after, unit="writes/s",
                   baseline=before, baseline_label="old global-lock path", target=("ratio>=", 1.0),
                   note=f"chain verified, {report.rows_checked:,} rows")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    [figure] = run_benchmark(Run(scale="", customers=0, as_of=timezone.now(), database_url="",
                                 options={"audit_clients": args.clients, "audit_seconds": args.seconds}))
    print(f"{figure.job}: before (global lock) {figure.baseline:,.0f} writes/s, after (sealer) "
          f"{figure.figure:,.0f} writes/s, {figure.ratio:.2f}x; {figure.note}")


if __name__ == "__main__":
    main()
