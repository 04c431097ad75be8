"""Is the demo seeded, not at all, or partly (an interrupted ``seed_demo``)? And wiping a partial seed.

``seed_demo`` commits a DemoSeedRun row before loading and stamps ``finished_at`` after the last
step. A database with customers but no unfinished run is left alone (it may hold real data
imported before the markers existed, or through the import commands).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from crm_project.models import DemoSeedRun
from customers.models import Customer

EMPTY, COMPLETE, PARTIAL = "empty", "complete", "partial"

# Derived tables whose rows point at customers without a database foreign key (so TRUNCATE ...
# CASCADE on customers does not reach them); everything else that references a customer,
# directly or through another table, is truncated by the CASCADE.
UNCONSTRAINED_CUSTOMER_TABLES = (
    "segmentation_customersegment", "segmentation_segmenthistory", "segmentation_recommendation",
    "segmentation_segmentcount", "segmentation_segmentmovecount",
)


def demo_seed_state() -> str:
    unfinished = DemoSeedRun.objects.filter(finished_at__isnull=True).exists()
    if unfinished:
        return PARTIAL
    return COMPLETE if Customer.objects.exists() else EMPTY


def demo_seed_unfinished() -> DemoSeedRun | None:
    return DemoSeedRun.objects.filter(finished_at__isnull=True).order_by("-started_at", "-id").first()


def demo_seed_begin(*, options: dict) -> DemoSeedRun:
    """Record (and commit at once) that a seed starts, before any of its rows."""
    with transaction.atomic():
        return DemoSeedRun.objects.create(options=options)


def demo_seed_finish(*, run: DemoSeedRun) -> None:
    with transaction.atomic():
        DemoSeedRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())


def demo_seed_wipe() -> None:
    """Remove the customer data of a partial seed (customers and everything hanging off them).

    Staff, branches, products and policies stay (the seed re-uses them); the audit log is never
    touched. Unfinished markers are closed as superseded.
    """
    quote = connection.ops.quote_name
    tables = [Customer._meta.db_table, *UNCONSTRAINED_CUSTOMER_TABLES]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(quote(table) for table in tables) + " CASCADE")
        DemoSeedRun.objects.filter(finished_at__isnull=True).delete()
