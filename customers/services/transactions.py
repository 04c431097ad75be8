"""Bulk ingest of transactions through the API: whole-batch validation, one INSERT."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers import selectors
from customers.models import (
    Channel,
    Transaction,
    TransactionDirection,
    TransactionType,
)

logger = logging.getLogger(__name__)

AUDIT_API_TRANSACTIONS_INGEST = "customers.transactions_ingest"

TRANSACTION_BULK_MAX_ROWS = 10_000
TRANSACTION_BULK_FIELDS = ("external_ref", "customer_external_id", "occurred_at", "amount", "direction",
                           "channel", "type")
TRANSACTION_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
# A transaction time later than this past "now" is a wrong clock or a wrong field, not a booking.
TRANSACTION_FUTURE_TOLERANCE = timedelta(days=1)
TRANSACTION_AMOUNT_PATTERN = re.compile(r"(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,2})?")


class TransactionBatchRejected(ApplicationError):
    """A bulk batch with invalid rows: nothing was written; ``field_errors["rows"]`` lists each problem."""

    @property
    def http_status(self) -> int:
        return 422


@dataclass(frozen=True)
class TransactionIngestResult:
    received: int
    inserted: int
    already_present: int



def transaction_bulk_ingest(*, by, rows: list) -> TransactionIngestResult:
    """Validate a batch of transactions whole, then insert the new ones in one statement.

    Any invalid row: nothing is written, and TransactionBatchRejected lists every problem as
    {"index", "field", "reason"} (index 0-based, in the order sent). A valid batch is one
    INSERT ... SELECT FROM unnest(...) ON CONFLICT (external_ref) DO NOTHING, so a retried
    batch never duplicates a row: rows whose external_ref is stored already count as
    ``already_present`` (their stored values are not changed). The caller sees customers by
    customer number, within its scope (a branch key: its branch); others are "unknown".
    """
    if len(rows) > TRANSACTION_BULK_MAX_ROWS:
        raise ApplicationError.invalid(
            _("Send at most %(max)d rows per request; split the batch.") % {"max": TRANSACTION_BULK_MAX_ROWS},
            field="rows",
        )
    errors, columns = _transaction_rows_check(rows)
    customer_ids = selectors.customer_ids_by_number_for_principal(
        principal=by, customer_numbers=sorted(set(columns["customer_external_id"]))
    )
    unknown_customer = _("No customer with this customer number (in your scope).")
    resolved_ids = []
    for index, customer_number in zip(columns["index"], columns["customer_external_id"], strict=True):
        customer_id = customer_ids.get(customer_number)
        if customer_id is None:
            errors.append({"index": index, "field": "customer_external_id", "reason": unknown_customer})
        resolved_ids.append(customer_id)
    if errors:
        errors.sort(key=lambda error: (error["index"], error["field"]))
        message = _("%(count)d of %(total)d rows are invalid; nothing was written.") % {
            "count": len({error["index"] for error in errors}), "total": len(rows),
        }
        raise TransactionBatchRejected(ErrorCode.INVALID, message, field_errors={"rows": errors})
    with transaction.atomic():
        inserted = 0
        if rows:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {Transaction._meta.db_table}
                        (external_ref, customer_id, occurred_at, amount, direction, channel, type)
                    SELECT * FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::numeric[],
                                         %s::text[], %s::text[], %s::text[])
                    ON CONFLICT (external_ref) DO NOTHING
                    """,  # noqa: S608 (the table name is ours)
                    [selectors.pg_array_literal(values) for values in (
                        columns["external_ref"], map(str, resolved_ids), columns["occurred_at"], columns["amount"],
                        columns["direction"], columns["channel"], columns["type"],
                    )],
                )
                inserted = cursor.rowcount
        result = TransactionIngestResult(received=len(rows), inserted=inserted,
                                         already_present=len(rows) - inserted)
        audit_record(actor=by, action=AUDIT_API_TRANSACTIONS_INGEST, detail={
            "received": result.received, "inserted": result.inserted, "already_present": result.already_present,
        })
    return result


def _transaction_rows_check(rows: list) -> tuple[list[dict], dict[str, list]]:
    """Check every row's shape and values by hand (a DRF serializer per row is ~50x slower).

    Returns (errors, columns): one list per column, of the valid rows only, occurred_at
    normalised to ISO 8601 in UTC. A row that passes the fast path costs a few microseconds;
    only a row that fails it is examined field by field to name every problem.
    """
    allowed_keys = frozenset(TRANSACTION_BULK_FIELDS)
    directions, channels, types = set(TransactionDirection.values), set(Channel.values), set(TransactionType.values)
    amount_ok = TRANSACTION_AMOUNT_PATTERN.fullmatch
    parse_time = datetime.fromisoformat
    latest = timezone.now() + TRANSACTION_FUTURE_TOLERANCE
    earliest = TRANSACTION_EARLIEST
    errors: list[dict] = []
    columns: dict[str, list] = {name: [] for name in (*TRANSACTION_BULK_FIELDS, "index")}
    refs, numbers, times, amounts = (columns["external_ref"], columns["customer_external_id"],
                                     columns["occurred_at"], columns["amount"])
    row_directions, row_channels, row_types, indexes = (columns["direction"], columns["channel"], columns["type"],
                                                        columns["index"])
    first_index_of_ref: dict[str, int] = {}
    messages = _transaction_row_messages()
    for index, row in enumerate(rows):
        if type(row) is dict and row.keys() == allowed_keys:
            ref, number, occurred_at, amount, direction, channel, kind = (
                row["external_ref"], row["customer_external_id"], row["occurred_at"], row["amount"],
                row["direction"], row["channel"], row["type"],
            )
            if (
                type(ref) is str and type(number) is str and type(occurred_at) is str and type(amount) is str
                and type(direction) is str and type(channel) is str and type(kind) is str
                and 0 < len(ref) <= 64 and 0 < len(number) <= 32 and ref.strip() and number.strip()
                and "\x00" not in ref and "\x00" not in number
                and direction in directions and channel in channels and kind in types
                and amount_ok(amount) and amount.strip("0.") and ref not in first_index_of_ref
            ):
                try:
                    moment = parse_time(occurred_at)
                    if moment.tzinfo is not None and earliest <= moment <= latest:
                        first_index_of_ref[ref] = index
                        refs.append(ref)
                        numbers.append(number)
                        times.append(moment.astimezone(UTC).isoformat())
                        amounts.append(amount)
                        row_directions.append(direction)
                        row_channels.append(channel)
                        row_types.append(kind)
                        indexes.append(index)
                        continue
                except (ValueError, OverflowError):
                    pass
        errors.extend(_transaction_row_problems(index, row, first_index_of_ref=first_index_of_ref, latest=latest,
                                                messages=messages))
    return errors, columns


def _transaction_row_messages() -> dict[str, str]:
    one_of = _("Must be one of: %(choices)s.")
    return {
        "required": _("This field is required."),
        "unknown": _("Unknown field."),
        "not_text": _("Must be a string."),
        "too_long": _("Longer than %(max)d characters."),
        "blank": _("May not be blank."),
        "nul": _("Null characters are not allowed."),
        "not_object": _("Each row must be a JSON object."),
        "bad_time": _("Must be an ISO 8601 date-time with a time-zone offset, from 1900 to tomorrow."),
        "bad_amount": _("Must be a positive decimal string with at most 2 decimal places, e.g. \"120.50\"."),
        "repeated": _("Repeats the external_ref of row %(index)d."),
        "direction": one_of % {"choices": ", ".join(TransactionDirection.values)},
        "channel": one_of % {"choices": ", ".join(Channel.values)},
        "type": one_of % {"choices": ", ".join(TransactionType.values)},
    }


def _transaction_row_problems(index: int, row, *, first_index_of_ref: dict[str, int], latest: datetime,
                              messages: dict[str, str]) -> list[dict]:
    """Name every problem of one row that failed the fast path, as {"index", "field", "reason"}."""
    if not isinstance(row, dict):
        return [{"index": index, "field": "", "reason": messages["not_object"]}]
    problems = [(str(name), messages["unknown"]) for name in row.keys() - set(TRANSACTION_BULK_FIELDS)]
    values = {}
    for name in TRANSACTION_BULK_FIELDS:
        value = row.get(name)
        if value is None:
            problems.append((name, messages["required"]))
        elif not isinstance(value, str):
            problems.append((name, messages["not_text"]))
        elif "\x00" in value:
            problems.append((name, messages["nul"]))
        else:
            values[name] = value
    for name, max_length in (("external_ref", 64), ("customer_external_id", 32)):
        value = values.get(name)
        if value is not None and not value.strip():
            problems.append((name, messages["blank"]))
        elif value is not None and len(value) > max_length:
            problems.append((name, messages["too_long"] % {"max": max_length}))
    for name, choice_class in (("direction", TransactionDirection), ("channel", Channel), ("type", TransactionType)):
        if name in values and values[name] not in choice_class.values:
            problems.append((name, messages[name]))
    amount = values.get("amount")
    if amount is not None and (not TRANSACTION_AMOUNT_PATTERN.fullmatch(amount) or not amount.strip("0.")):
        problems.append(("amount", messages["bad_amount"]))
    occurred_at = values.get("occurred_at")
    if occurred_at is not None:
        try:
            moment = datetime.fromisoformat(occurred_at)
            if moment.tzinfo is None or not TRANSACTION_EARLIEST <= moment <= latest:
                raise ValueError
        except (ValueError, OverflowError):
            problems.append(("occurred_at", messages["bad_time"]))
    external_ref = values.get("external_ref")
    if external_ref is not None:
        first_index = first_index_of_ref.setdefault(external_ref, index)
        if first_index != index:
            problems.append(("external_ref", messages["repeated"] % {"index": first_index}))
    return [{"index": index, "field": name, "reason": reason} for name, reason in problems]

