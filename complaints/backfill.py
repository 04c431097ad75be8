"""Fill derived columns of complaints written before the column existed (called by data migrations).

Each function takes the model class (a migration passes its historical model) and works in
batches by id, each batch its own short transaction, so a large table is never locked for long
and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

from django.db import transaction

from core import crypto

BACKFILL_BATCH_SIZE = 1000


def complaint_contact_phone_bidx_backfill(*, complaint_model, batch_size: int = BACKFILL_BATCH_SIZE) -> int:
    """Set ``contact_phone_bidx`` on complaints that have a contact phone but no index; return how many.

    The phone is decrypted here only to compute its blind index (core.crypto, the same
    normaliser as every phone search); nothing is logged or returned but the count.
    """
    updated = 0
    last_id = 0
    while True:
        with transaction.atomic():
            batch = list(
                complaint_model.objects.filter(pk__gt=last_id, contact_phone__isnull=False,
                                               contact_phone_bidx__isnull=True)
                .order_by("pk").only("pk", "contact_phone")[:batch_size]
            )
            if not batch:
                return updated
            last_id = batch[-1].pk
            changed = []
            for complaint in batch:
                digest = crypto.blind_index(kind="phone", value=complaint.contact_phone)
                if digest:
                    complaint.contact_phone_bidx = digest
                    changed.append(complaint)
            complaint_model.objects.bulk_update(changed, ["contact_phone_bidx"])
            updated += len(changed)
