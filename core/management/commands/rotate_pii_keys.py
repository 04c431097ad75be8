"""Re-encrypt every stored PII value under the primary key, or check that a key can be retired.

Rotating a key:
1. Put a new key first in PII_ENCRYPTION_KEYS, keep the old ones after it, and deploy it to
   every process (servers still encrypting with the old key keep writing old-key rows).
2. ``manage.py rotate_pii_keys`` re-encrypts, one transaction per batch. It is resumable:
   each batch takes the next rows not yet on the primary key, so a rerun continues where an
   interrupted run stopped.
3. ``manage.py rotate_pii_keys --check-retire OLD_ID`` exits non-zero while any value still
   uses OLD_ID; once it says "safe to retire", remove OLD_ID from the setting.

Rows are read and written with raw SQL, never through the field's from_db_value, and the
plaintext exists only inside MultiFernet.rotate: nothing is printed or logged but counts,
table and column names, key ids and primary keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, models, router, transaction

from core import crypto
from core.fields import EncryptedTextField


@dataclass(frozen=True)
class EncryptedColumn:
    """One concrete encrypted field, addressed the way raw SQL needs it."""

    model: type[models.Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def using(self) -> str:
        return router.db_for_write(self.model)

    def sql_names(self) -> tuple[str, str, str, str]:
        """Return the quoted table, column and pk column names and the pk's SQL type."""
        connection = connections[self.using]
        quote = connection.ops.quote_name
        pk = self.model._meta.pk
        return (
            quote(self.model._meta.db_table),
            quote(self.field.column),
            quote(pk.column),
            pk.rel_db_type(connection),
        )


def encrypted_columns() -> list[EncryptedColumn]:
    """Return every concrete encrypted field of every installed, managed model."""
    columns = []
    for model in apps.get_models():
        # Proxies share their concrete model's table; unmanaged tables may not exist here.
        if model._meta.proxy or not model._meta.managed:
            continue
        columns.extend(
            EncryptedColumn(model=model, field=field)
            for field in model._meta.local_concrete_fields
            if isinstance(field, EncryptedTextField)
        )
    return columns


def count_by_key_id(*, column: EncryptedColumn) -> dict[str | None, int]:
    """Count the column's stored values per key id; None counts values with no key id at all.

    NULL and "" hold no ciphertext and are not counted.
    """
    table, col, _pk, _pk_type = column.sql_names()
    with connections[column.using].cursor() as cursor:
        cursor.execute(
            # Identifiers come from model metadata and are quoted; values are parameters.
            # Without a separator split_part() would return the whole value, which may be
            # legacy plaintext, so such values are grouped under NULL instead.
            f"SELECT CASE WHEN strpos({col}, %s) > 0 THEN split_part({col}, %s, 1) END, count(*) "  # noqa: S608
            f"FROM {table} WHERE {col} IS NOT NULL AND {col} <> '' GROUP BY 1",
            [crypto.KEY_ID_SEPARATOR, crypto.KEY_ID_SEPARATOR],
        )
        return dict(cursor.fetchall())


def rotate_batch(*, column: EncryptedColumn, primary_key_id: str, batch_size: int) -> int:
    """Re-encrypt the next batch of values not on the primary key; return how many were rotated."""
    table, col, pk_col, pk_type = column.sql_names()
    with transaction.atomic(using=column.using), connections[column.using].cursor() as cursor:
        # SKIP LOCKED: rows an application transaction holds are left for a later run instead
        # of blocking it; ordering by pk makes the work visible as a moving frontier.
        cursor.execute(
            f"SELECT {pk_col}, {col} FROM {table} "  # noqa: S608
            f"WHERE {col} IS NOT NULL AND {col} <> '' AND split_part({col}, %s, 1) <> %s "
            f"ORDER BY {pk_col} LIMIT %s FOR UPDATE SKIP LOCKED",
            [crypto.KEY_ID_SEPARATOR, primary_key_id, batch_size],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        pks, new_values = [], []
        for pk, stored in rows:
            try:
                new_values.append(crypto.rotate(stored=stored))
            except crypto.PiiDecryptionError as exc:
                raise CommandError(
                    f"{column.label} pk={pk}: {exc} Nothing in this batch was written; "
                    "earlier batches are kept."
                ) from None
            pks.append(pk)
        cursor.execute(
            f"UPDATE {table} AS t SET {col} = v.new_value "  # noqa: S608
            f"FROM unnest(%s::{pk_type}[], %s::text[]) AS v(pk, new_value) WHERE t.{pk_col} = v.pk",
            [pks, new_values],
        )
        return len(rows)


def _is_key_id(value: str | None) -> bool:
    return value is not None and crypto.KEY_ID_PATTERN.match(value) is not None


class Command(BaseCommand):
    help = (
        "Re-encrypt stored PII values under the primary key of PII_ENCRYPTION_KEYS (resumable), "
        "or with --check-retire KEY_ID fail while any value still uses KEY_ID."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="Rows per transaction (default 1000)."
        )
        parser.add_argument(
            "--max-batches",
            type=int,
            default=None,
            help="Stop after this many batches in total; a rerun continues from there.",
        )
        parser.add_argument(
            "--check-retire",
            metavar="KEY_ID",
            default=None,
            help="Rotate nothing; exit non-zero if any stored value still uses KEY_ID.",
        )

    def handle(self, *args, batch_size: int, max_batches: int | None, check_retire: str | None, **options):
        verbosity = options["verbosity"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if max_batches is not None and max_batches < 1:
            raise CommandError("--max-batches must be at least 1.")
        try:
            keyring = crypto.get_keyring()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc

        columns = encrypted_columns()
        counts_by_column = {column: count_by_key_id(column=column) for column in columns}
        self._refuse_unknown_key_ids(keyring=keyring, counts_by_column=counts_by_column)

        if check_retire is not None:
            self._check_retire(
                key_id=check_retire, keyring=keyring, counts_by_column=counts_by_column, verbosity=verbosity
            )
            return

        batches_left = max_batches
        rotated_total = 0
        for column, counts in counts_by_column.items():
            pending = sum(n for key_id, n in counts.items() if key_id != keyring.primary_key_id)
            if pending == 0:
                if verbosity >= 2:
                    self.stdout.write(f"{column.label}: nothing to rotate")
                continue
            done = 0
            while batches_left is None or batches_left > 0:
                rotated = rotate_batch(
                    column=column, primary_key_id=keyring.primary_key_id, batch_size=batch_size
                )
                if rotated == 0:
                    break
                done += rotated
                if batches_left is not None:
                    batches_left -= 1
                if verbosity >= 1:
                    self.stdout.write(f"{column.label}: {done}/{pending} re-encrypted")
            rotated_total += done
            if batches_left == 0:
                break

        remaining = self._count_not_on_primary(keyring=keyring, columns=columns)
        if verbosity >= 1:
            self.stdout.write(
                f"Re-encrypted {rotated_total} value(s) to key {keyring.primary_key_id!r}; "
                f"{remaining} value(s) remain on other keys."
            )
            if remaining and batches_left == 0:
                self.stdout.write(f"Stopped after --max-batches {max_batches}; rerun to continue.")
            elif remaining:
                # Locked rows were skipped, or a process still encrypts with an old key.
                self.stdout.write(
                    self.style.WARNING(
                        "Some rows were locked or were written meanwhile with an old primary key; "
                        "check every process has the new PII_ENCRYPTION_KEYS and rerun."
                    )
                )
            else:
                self.stdout.write(self.style.SUCCESS("Every stored value uses the primary key."))

    def _refuse_unknown_key_ids(
        self, *, keyring: crypto.Keyring, counts_by_column: dict[EncryptedColumn, dict[str | None, int]]
    ) -> None:
        problems = []
        for column, counts in counts_by_column.items():
            unknown = {key_id: n for key_id, n in counts.items() if key_id not in keyring.fernets_by_key_id}
            if not unknown:
                continue
            # Only well-formed ids are named: the prefix of a malformed value may be plaintext.
            named = sorted(key_id for key_id in unknown if _is_key_id(key_id))
            malformed = sum(n for key_id, n in unknown.items() if not _is_key_id(key_id))
            detail = f"key ids {named}" if named else "no key id"
            if named and malformed:
                detail += f", {malformed} malformed"
            problems.append(f"{column.label}: {sum(unknown.values())} value(s) ({detail})")
        if problems:
            raise CommandError(
                "Stored values use key ids not configured in PII_ENCRYPTION_KEYS; add the missing "
                "keys back before rotating or retiring anything: " + "; ".join(problems)
            )

    def _check_retire(
        self,
        *,
        key_id: str,
        keyring: crypto.Keyring,
        counts_by_column: dict[EncryptedColumn, dict[str | None, int]],
        verbosity: int,
    ) -> None:
        if key_id == keyring.primary_key_id:
            raise CommandError(
                f"Key {key_id!r} is the primary key and encrypts every new value; it cannot be retired."
            )
        in_use = {
            column.label: counts[key_id] for column, counts in counts_by_column.items() if counts.get(key_id)
        }
        if in_use:
            detail = ", ".join(f"{label}: {n}" for label, n in in_use.items())
            raise CommandError(
                f"{sum(in_use.values())} stored value(s) still use key {key_id!r} ({detail}); "
                "run rotate_pii_keys first."
            )
        if verbosity >= 1:
            self.stdout.write(self.style.SUCCESS(f"No stored value uses key {key_id!r}: safe to retire."))

    def _count_not_on_primary(self, *, keyring: crypto.Keyring, columns: list[EncryptedColumn]) -> int:
        return sum(
            n
            for column in columns
            for key_id, n in count_by_key_id(column=column).items()
            if key_id != keyring.primary_key_id
        )
