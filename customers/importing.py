"""The import engine for core-banking exports: customers, holdings and transactions.

A mapping file (JSON, ``customers/import_mappings/*.json``) says which source column feeds
which field, with value maps for coded columns and date formats, because every bank's export
names and codes things its own way. The engine:

- validates the mapping before reading any row (unknown field, value not a valid choice, a
  required field left unmapped -> ``ImportMappingError``);
- detects the encoding from the first bytes: UTF-8 with BOM, UTF-8, else GB18030 (a superset
  of GBK); bytes that decode in none -> ``ImportFileError``;
- streams the file through ``csv`` (never loads it whole), checks the header (a required
  column missing -> ``ImportFileError``, nothing written), validates each row, and upserts
  the valid rows in batches keyed on the external id / reference;
- writes one error-report line per problem: data row number (1-based, header excluded, one
  number per CSV record), column, value (PII masked) and reason.

Row rules, documented:
- A row whose column count differs from the header's (a truncated last line, a stray
  delimiter) is rejected whole; its values are not echoed (they are unparsed PII).
- A key repeated inside one file: the first occurrence is imported, every later one is
  rejected ("repeats row N"), so the result does not depend on which copy a bank meant.
- Amounts may carry thousands separators (``12,345.60``); any other character rejects the row.
- A blank cell of an optional column imports as empty (NULL), and clears the stored value on
  update: the export is the source of truth for the columns it maps. Unmapped fields are never
  touched.

Writes: each batch is one transaction (``transaction.atomic``): COPY for new keys (values
converted and PII encrypted here, column by column, instead of through ``bulk_create``'s
per-value field machinery, which cost about twice the encryption itself), UPDATE
only for rows where a mapped value differs from the stored one (PII compared decrypted), so
re-running a file reports every row "unchanged". If the database still refuses a batch (a
constraint no row check covers), the batch is retried row by row, each in a savepoint, so one
bad row never blocks the others. A crash mid-file leaves the batches committed so far; running
the same file again is idempotent and completes it. Counters always satisfy
read = created + updated + unchanged + rejected.

Nothing here logs a value from the file: logs carry counts and row numbers only.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone

from accounts.models import Branch, User
from core import crypto, masking
from core.fields import BlindIndexField, EncryptedTextField
from customers import rules
from customers.models import Customer, Holding, Product, Transaction

logger = logging.getLogger(__name__)

MAPPINGS_DIR = Path(__file__).resolve().parent / "import_mappings"
DEFAULT_BATCH_SIZE = 2000
# Enough bytes to tell UTF-8 from GB18030 (a GBK export has non-ASCII within its first rows).
ENCODING_SNIFF_BYTES = 64 * 1024
RESIDENT_ID_TYPE = "resident_id"
REPORT_HEADER = ("row", "column", "value", "reason")
# How often (rows) the progress callback runs between batches.
PROGRESS_EVERY_ROWS = 1000


class ImportKind(models.TextChoices):
    CUSTOMERS = "customers", "customers"
    HOLDINGS = "holdings", "holdings"
    TRANSACTIONS = "transactions", "transactions"


class ImportMappingError(Exception):
    """The mapping file itself is wrong; raised before any row is read. Carries no file data."""


class ImportFileError(Exception):
    """The file cannot be imported (encoding, header); raised before any row of it is written."""


# --- Kinds: what each import may write --------------------------------------------------------

# Field types: str, date, datetime, decimal, choice, fk (looked up by a natural key).
# "virtual" fields feed row checks but are not stored (e.g. the ID document type).


@dataclass(frozen=True)
class TargetField:
    name: str
    type: str
    required: bool = False  # must be mapped (the model needs it on INSERT)
    max_length: int | None = None
    choices: frozenset[str] = frozenset()
    pii: str | None = None  # blind-index kind / masker for encrypted fields
    virtual: bool = False
    lookup: str = ""  # fk: "branch_code", "staff_number", "customer_external_id", "product_code"


def _model_fields(model: type[models.Model], names: dict[str, dict]) -> dict[str, TargetField]:
    fields: dict[str, TargetField] = {}
    for name, extra in names.items():
        if extra.get("virtual"):
            fields[name] = TargetField(name=name, **extra)
            continue
        model_field = model._meta.get_field(name)
        if "type" in extra:
            field_type = extra.pop("type")
        elif model_field.choices:
            field_type = "choice"
        elif isinstance(model_field, models.DateTimeField):
            field_type = "datetime"
        elif isinstance(model_field, models.DateField):
            field_type = "date"
        elif isinstance(model_field, models.DecimalField):
            field_type = "decimal"
        else:
            field_type = "str"
        fields[name] = TargetField(
            name=name, type=field_type,
            max_length=getattr(model_field, "max_length", None) if field_type == "str" else None,
            choices=frozenset(str(value) for value, _label in (model_field.choices or [])),
            **extra,
        )
    return fields


@dataclass(frozen=True)
class KindSpec:
    kind: str
    model: type[models.Model]
    key: str
    fields: dict[str, TargetField]


def _kind_specs() -> dict[str, KindSpec]:
    return {
        ImportKind.CUSTOMERS: KindSpec(
            kind=ImportKind.CUSTOMERS, model=Customer, key="external_id",
            fields=_model_fields(Customer, {
                "external_id": {"required": True}, "name": {"required": True}, "gender": {},
                "birth_date": {}, "occupation": {},
                "id_type": {"virtual": True, "type": "choice",
                            "choices": frozenset({RESIDENT_ID_TYPE, "other"})},
                "id_number": {"pii": "id_number"}, "phone": {"pii": "phone"},
                "email": {"pii": "email"}, "address": {"pii": "address"},
                "branch": {"type": "fk", "lookup": "branch_code", "required": True},
                "relationship_manager": {"type": "fk", "lookup": "staff_number"},
                "customer_since": {}, "status": {}, "closed_on": {}, "closed_reason": {},
                "total_assets": {}, "liabilities": {}, "annual_income": {}, "credit_rating": {},
                "risk_tolerance": {}, "preferred_channel": {},
            }),
        ),
        ImportKind.HOLDINGS: KindSpec(
            kind=ImportKind.HOLDINGS, model=Holding, key="external_ref",
            fields=_model_fields(Holding, {
                "external_ref": {"required": True},
                "customer": {"type": "fk", "lookup": "customer_external_id", "required": True},
                "product": {"type": "fk", "lookup": "product_code", "required": True},
                "balance": {}, "opened_on": {"required": True}, "closed_on": {},
            }),
        ),
        ImportKind.TRANSACTIONS: KindSpec(
            kind=ImportKind.TRANSACTIONS, model=Transaction, key="external_ref",
            fields=_model_fields(Transaction, {
                "external_ref": {"required": True},
                "customer": {"type": "fk", "lookup": "customer_external_id", "required": True},
                "occurred_at": {"required": True}, "amount": {"required": True},
                "direction": {"required": True}, "channel": {"required": True}, "type": {"required": True},
            }),
        ),
    }


# --- Mapping ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnMapping:
    column: str
    target: TargetField
    required: bool
    values: dict[str, str] | None
    date_format: str | None


@dataclass(frozen=True)
class Mapping:
    name: str
    kind: str
    spec: KindSpec
    required_columns: tuple[str, ...]
    columns: tuple[ColumnMapping, ...]
    key_column: str


MAPPING_KEYS = {"kind", "description", "required_columns", "date_format", "datetime_format", "columns"}
COLUMN_KEYS = {"field", "required", "values", "format"}


def mapping_names() -> list[str]:
    """Names of the shipped mappings (file stems under customers/import_mappings/)."""
    return sorted(path.stem for path in MAPPINGS_DIR.glob("*.json"))


def mapping_load(*, name_or_path: str) -> Mapping:
    """Load and validate a mapping: a shipped name (``core_banking_customers``) or a JSON file path."""
    path = MAPPINGS_DIR / f"{name_or_path}.json"
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name_or_path) or not path.exists():
        path = Path(name_or_path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ImportMappingError(f"Mapping {name_or_path!r} not found (shipped: {', '.join(mapping_names())}).") \
            from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ImportMappingError(f"Mapping {path.name} is not valid UTF-8 JSON: {exc}") from None
    return mapping_parse(raw=raw, name=path.stem)


def mapping_parse(*, raw: Any, name: str = "mapping") -> Mapping:
    """Validate a mapping dict and return it parsed; raise ImportMappingError saying what is wrong."""
    if not isinstance(raw, dict):
        raise ImportMappingError(f"{name}: the mapping must be a JSON object.")
    unknown_keys = set(raw) - MAPPING_KEYS
    if unknown_keys:
        raise ImportMappingError(f"{name}: unknown mapping keys {sorted(unknown_keys)}.")
    specs = _kind_specs()
    kind = raw.get("kind")
    if kind not in specs:
        raise ImportMappingError(f"{name}: 'kind' must be one of {sorted(specs)}, got {kind!r}.")
    spec = specs[kind]
    columns_raw = raw.get("columns")
    if not isinstance(columns_raw, dict) or not columns_raw:
        raise ImportMappingError(f"{name}: 'columns' must be a non-empty object of column -> field.")
    default_formats = {"date": raw.get("date_format", "%Y%m%d"), "datetime": raw.get("datetime_format",
                                                                                    "%Y%m%d%H%M%S")}
    columns: list[ColumnMapping] = []
    targets_seen: dict[str, str] = {}
    for column, column_raw in columns_raw.items():
        if isinstance(column_raw, str):
            column_raw = {"field": column_raw}
        if not isinstance(column_raw, dict):
            raise ImportMappingError(f"{name}: column {column!r} must map to a field name or an object.")
        unknown_keys = set(column_raw) - COLUMN_KEYS
        if unknown_keys:
            raise ImportMappingError(f"{name}: column {column!r} has unknown keys {sorted(unknown_keys)}.")
        target_name = column_raw.get("field")
        if target_name not in spec.fields:
            raise ImportMappingError(
                f"{name}: column {column!r} maps to unknown field {target_name!r}; "
                f"a {kind} import can set {sorted(spec.fields)}."
            )
        if target_name in targets_seen:
            raise ImportMappingError(
                f"{name}: columns {targets_seen[target_name]!r} and {column!r} both map to {target_name!r}."
            )
        targets_seen[target_name] = column
        target = spec.fields[target_name]
        values = column_raw.get("values")
        if values is not None:
            if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
                raise ImportMappingError(f"{name}: 'values' of column {column!r} must map codes to strings.")
            if target.type != "choice":
                raise ImportMappingError(f"{name}: column {column!r}: field {target_name!r} takes no value map.")
            invalid = sorted(set(values.values()) - target.choices)
            if invalid:
                raise ImportMappingError(
                    f"{name}: column {column!r} maps to {invalid}, not among {target_name!r}'s "
                    f"values {sorted(target.choices)}."
                )
        date_format = column_raw.get("format")
        if date_format is not None and target.type not in ("date", "datetime"):
            raise ImportMappingError(f"{name}: column {column!r}: 'format' applies to date fields only.")
        if target.type in ("date", "datetime"):
            date_format = date_format or default_formats[target.type]
        columns.append(ColumnMapping(
            column=column, target=target, required=bool(column_raw.get("required", target.required)),
            values=values, date_format=date_format,
        ))
    missing_targets = sorted(name_ for name_, target in spec.fields.items()
                             if target.required and name_ not in targets_seen)
    if missing_targets:
        raise ImportMappingError(f"{name}: a {kind} import needs columns for {missing_targets}.")
    required_columns = raw.get("required_columns", [])
    if not isinstance(required_columns, list) or not all(isinstance(c, str) for c in required_columns):
        raise ImportMappingError(f"{name}: 'required_columns' must be a list of column names.")
    not_mapped = sorted(set(required_columns) - set(columns_raw))
    if not_mapped:
        raise ImportMappingError(f"{name}: required columns {not_mapped} are not mapped.")
    # Columns feeding a required field must be in the header too.
    required = list(required_columns) + [c.column for c in columns if c.target.required
                                         and c.column not in required_columns]
    return Mapping(
        name=name, kind=kind, spec=spec, required_columns=tuple(required), columns=tuple(columns),
        key_column=targets_seen[spec.key],
    )


# --- Encoding and streaming --------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """A raw binary stream over another that counts the bytes read, for progress."""

    def __init__(self, source: IO[bytes]):
        self._source = source
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self.bytes_read += count
        return count


def detect_encoding(head: bytes) -> str:
    """Return the encoding of a file from its first bytes: utf-8-sig, utf-8 or gb18030."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            # Not final: the sniffed head may end in the middle of a character.
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError("The file is neither UTF-8 nor GBK/GB18030 text; export it as CSV in one of those.")


# --- Counters, report, progress ------------------------------------------------------------------


@dataclass
class ImportResult:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    encoding: str = ""
    errors_reported: int = 0

    def check(self) -> None:
        """The accounting identity: every row read is counted exactly once."""
        assert self.read == self.created + self.updated + self.unchanged + self.rejected, self.counts()

    def counts(self) -> dict[str, int]:
        return {"read": self.read, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "rejected": self.rejected}


@dataclass
class _Row:
    number: int
    raw: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str, str]] = field(default_factory=list)  # column, value (masked), reason


class ReportWriter:
    """The error report: CSV with a UTF-8 BOM (Excel opens it), PII values masked."""

    def __init__(self, stream: IO[str] | None):
        self._writer = csv.writer(stream) if stream is not None else None
        if stream is not None:
            stream.write("\ufeff")
            self._writer.writerow(REPORT_HEADER)

    def write(self, row: _Row) -> int:
        if self._writer is not None:
            for column, value, reason in row.errors:
                self._writer.writerow((row.number, column, value, reason))
        return len(row.errors)


def _masked(target: TargetField | None, value: str) -> str:
    if target is None:
        return ""
    if target.name in ("id_number",):
        return masking.mask_id_number(value)
    if target.name == "phone":
        return masking.mask_phone(value)
    if target.name == "email":
        return masking.mask_email(value)
    if target.name == "address":
        return masking.mask_address(value)
    if target.name == "name":
        return masking.mask_name(value)
    return value


# --- Row parsing -----------------------------------------------------------------------------------

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?:\D|$))")


def _parse_date(text: str, date_format: str) -> date:
    """strptime, with a fast path for the two formats core-banking exports use most.

    Only fixed-width digits take the fast path, where it gives exactly strptime's answer (and the
    same ValueError for 20240230); anything else goes through strptime. strptime is about a
    fifth of the parsing time of a customer row.
    """
    if date_format == "%Y%m%d" and len(text) == 8 and text.isascii() and text.isdigit():
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    if (date_format == "%Y-%m-%d" and len(text) == 10 and text[4] == "-" and text[7] == "-"
            and text.isascii() and (text[:4] + text[5:7] + text[8:]).isdigit()):
        return date(int(text[:4]), int(text[5:7]), int(text[8:]))
    return datetime.strptime(text, date_format).date()


def _parse_value(mapping_column: ColumnMapping, text: str) -> tuple[Any, str | None]:
    """Return (value, None) or (None, reason). Reasons never quote the value."""
    target = mapping_column.target
    if target.type == "choice":
        if mapping_column.values is not None:
            if text not in mapping_column.values:
                return None, f"unknown code (expected one of {', '.join(sorted(mapping_column.values))})"
            return mapping_column.values[text], None
        if text not in target.choices:
            return None, f"unknown value (expected one of {', '.join(sorted(target.choices))})"
        return text, None
    if target.type == "date":
        try:
            return _parse_date(text, mapping_column.date_format), None
        except ValueError:
            return None, f"not a valid date in format {mapping_column.date_format}"
    if target.type == "datetime":
        try:
            moment = datetime.strptime(text, mapping_column.date_format)
        except ValueError:
            return None, f"not a valid date-time in format {mapping_column.date_format}"
        return (timezone.make_aware(moment) if timezone.is_naive(moment) else moment), None
    if target.type == "decimal":
        cleaned = _THOUSANDS.sub("", text)
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", cleaned):
            return None, "not a number"
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            return None, "not a number"
        if amount.as_tuple().exponent < -2:
            return None, "more than 2 decimal places"
        if abs(amount) >= Decimal(10) ** 16:
            return None, "too large"
        return amount, None
    if target.type == "fk":
        return text, None
    if target.max_length is not None and len(text) > target.max_length:
        return None, f"longer than {target.max_length} characters"
    if target.pii == "id_number":
        text = text.upper()
    return text, None


def _check_customer(row: _Row, by_field: dict[str, ColumnMapping]) -> None:
    """The customer rules (customers.rules), the same the API applies; values normalised in place."""
    values = row.values
    failed = _failed(row, by_field)

    def reject(field_name: str, code: str) -> None:
        column = by_field[field_name].column if field_name in by_field else ""
        target = by_field[field_name].target if field_name in by_field else None
        row.errors.append((column, _masked(target, row.raw.get(column, "")), str(rules.MESSAGES[code])))

    checked = {name: values[name] for name in ("phone", "id_number", *rules.DATE_FIELDS)
               if name in values and name not in failed}
    if values.get("id_type", RESIDENT_ID_TYPE) != RESIDENT_ID_TYPE:
        checked.pop("id_number", None)  # a passport number is not a resident ID
    cleaned, violations = rules.customer_values_clean(checked)
    for name in ("phone", "id_number"):
        if cleaned.get(name):
            values[name] = cleaned[name]
    for violation in violations:
        reject(violation.field, violation.code)
    failed = _failed(row, by_field)
    state_fields = {"status", "closed_on", "birth_date", "id_number"}
    if failed & state_fields:
        return
    id_number = values.get("id_number") if values.get("id_type", RESIDENT_ID_TYPE) == RESIDENT_ID_TYPE else None
    for violation in rules.customer_state_violations(
        status=values.get("status"), closed_on=values.get("closed_on"), id_number=id_number,
        birth_date=values.get("birth_date"), has_closed_on_field="closed_on" in by_field,
    ):
        if violation.field == "closed_on" and "closed_on" not in by_field:
            continue
        reject(violation.field, violation.code)


def _check_holding(row: _Row, by_field: dict[str, ColumnMapping]) -> None:
    opened_on, closed_on = row.values.get("opened_on"), row.values.get("closed_on")
    if opened_on and closed_on and closed_on < opened_on:
        column = by_field["closed_on"].column
        row.errors.append((column, row.raw.get(column, ""), "closed before it was opened"))


def _check_transaction(row: _Row, by_field: dict[str, ColumnMapping]) -> None:
    amount = row.values.get("amount")
    if amount is not None and amount <= 0:
        column = by_field["amount"].column
        row.errors.append((column, row.raw.get(column, ""), "amount must be positive (direction says in or out)"))


def _failed(row: _Row, by_field: dict[str, ColumnMapping]) -> set[str]:
    failed_columns = {column for column, _value, _reason in row.errors}
    return {name for name, mapped in by_field.items() if mapped.column in failed_columns}


ROW_CHECKS: dict[str, Callable[[_Row, dict[str, ColumnMapping]], None]] = {
    ImportKind.CUSTOMERS: _check_customer,
    ImportKind.HOLDINGS: _check_holding,
    ImportKind.TRANSACTIONS: _check_transaction,
}


# --- The engine ------------------------------------------------------------------------------------


ProgressCallback = Callable[[ImportResult], None]


_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return _COPY_NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


class _CopyInserter:
    """INSERT new rows of one model with COPY, computing what ``Model.save()`` would.

    Every concrete column but the serial primary key is written: mapped values from the row
    (PII encrypted, foreign keys as ids), blind indexes from their source values, auto_now /
    auto_now_add times as ``now``, and model defaults for the rest (computed once). A unique
    key inserted concurrently by someone else makes COPY fail as a whole, which the caller's
    row-by-row retry handles like any refused batch.
    """

    def __init__(self, *, model: type[models.Model], stored: list[TargetField], extra_now: tuple[str, ...] = ()):
        self.model = model
        stored_by_attname = {(f"{t.name}_id" if t.type == "fk" else t.name): t.name for t in stored}
        self.columns: list[str] = []
        self.getters: list[Callable[[dict[str, Any], str], str]] = []
        for model_field in model._meta.concrete_fields:
            if model_field.primary_key:
                continue
            self.columns.append(model_field.column)
            self.getters.append(self._getter(model_field, stored_by_attname, extra_now))

    @staticmethod
    def _getter(model_field, stored_by_attname: dict[str, str], extra_now: tuple[str, ...]):
        name = stored_by_attname.get(model_field.attname)
        if name is not None and isinstance(model_field, EncryptedTextField):
            return lambda values, now: (_COPY_NULL if values[name] in (None, "")
                                        else crypto.encrypt(plaintext=values[name]))
        if name is not None:
            return lambda values, now: _copy_text(values[name])
        if isinstance(model_field, BlindIndexField):
            kind, source = model_field.normalizer, model_field.source
            return lambda values, now: _copy_text(crypto.blind_index(kind=kind, value=values.get(source)))
        if getattr(model_field, "auto_now", False) or getattr(model_field, "auto_now_add", False) \
                or model_field.name in extra_now:
            return lambda values, now: now
        constant = _copy_text(model_field.get_db_prep_save(model_field.get_default(), connection))
        return lambda values, now: constant

    def insert(self, rows: list[dict[str, Any]]) -> None:
        now = timezone.now().isoformat()
        buffer = io.StringIO()
        getters = self.getters
        for values in rows:
            buffer.write("\t".join([getter(values, now) for getter in getters]))
            buffer.write("\n")
        buffer.seek(0)
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(column) for column in self.columns)
        with connection.cursor() as cursor:
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


class _BatchWriter:
    """Write batches in a second thread while the caller parses the next one.

    Parsing, validating and encrypting a batch is Python work; writing it (COPY, index upkeep,
    commit) is PostgreSQL's, on another core. A queue of one keeps at most two batches in memory
    and the batches in file order. The writer thread has its own database connection, so when
    the caller is inside a transaction (a test, or an outer atomic block) the batches are written
    inline instead: another connection would not see that transaction's rows. An error in the
    writer stops the import at the next submit; leaving the block waits for the batches queued so
    far (each commits on its own, as documented above).
    """

    def __init__(self, write: Callable[[list[_Row]], None]):
        self.write = write
        self.inline = connection.in_atomic_block
        self.error: BaseException | None = None
        self.queue: queue.Queue[list[_Row] | None] = queue.Queue(maxsize=1)
        self.thread = None if self.inline else threading.Thread(target=self._work, name="import-writer", daemon=True)

    def __enter__(self) -> _BatchWriter:
        if self.thread:
            self.thread.start()
        return self

    def submit(self, batch: list[_Row]) -> None:
        if self.inline:
            self.write(batch)
            return
        self._raise_error()
        self.queue.put(batch)

    def __exit__(self, exc_type, exc, traceback) -> None:
        if self.thread:
            self.queue.put(None)
            self.thread.join()
        if exc_type is None:
            self._raise_error()

    def _work(self) -> None:
        try:
            while (batch := self.queue.get()) is not None:
                if self.error is None:
                    self.write(batch)
        except BaseException as error:  # handed to the parsing thread
            self.error = error
            while self.queue.get() is not None:  # drain so the parser never blocks on a full queue
                pass
        finally:
            connection.close()

    def _raise_error(self) -> None:
        if self.error is not None:
            raise self.error


class _Importer:
    def __init__(self, *, mapping: Mapping, batch_size: int, report: ReportWriter,
                 progress: ProgressCallback | None):
        self.mapping = mapping
        self.spec = mapping.spec
        self.by_field = {c.target.name: c for c in mapping.columns}
        self.stored_fields = [c.target for c in mapping.columns if not c.target.virtual]
        self.batch_size = batch_size
        self.report = report
        self.progress = progress
        self.result = ImportResult()
        self.first_row_by_key: dict[str, int] = {}
        self._fk_cache: dict[str, dict[str, int]] = {}
        # update()/bulk_update() skip BlindIndexField.pre_save: these are set by hand.
        self.blind_index_fields = {f.name for f in self.spec.model._meta.get_fields()
                                   if f.__class__.__name__ == "BlindIndexField"}

    # Reading

    def run(self, source: IO[bytes], *, bytes_total: int) -> ImportResult:
        head = source.read(ENCODING_SNIFF_BYTES)
        encoding = detect_encoding(head)
        source.seek(0)
        counting = _CountingReader(source)
        text = io.TextIOWrapper(io.BufferedReader(counting), encoding=encoding, newline="")
        self.result.encoding = encoding
        self.result.bytes_total = bytes_total
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if header is None:
                raise ImportFileError("The file is empty: no header line.")
            header = [name.strip() for name in header]
            missing = [column for column in self.mapping.required_columns if column not in header]
            if missing:
                raise ImportFileError(f"The header lacks required columns: {', '.join(missing)}.")
            positions = {name: index for index, name in enumerate(header)}
            # Columns mapped but absent from the header (optional ones) are not imported.
            self.present_columns = [c for c in self.mapping.columns if c.column in positions]
            self.stored_fields = [c.target for c in self.present_columns if not c.target.virtual]
            self.inserter = _CopyInserter(model=self.spec.model, stored=self.stored_fields,
                                          extra_now=("info_updated_at",) if self.spec.model is Customer else ())
            batch: list[_Row] = []
            with _BatchWriter(self._flush) as writer:
                for row in self._rows(reader, header, positions):
                    batch.append(row)
                    self.result.bytes_read = counting.bytes_read
                    if len(batch) >= self.batch_size:
                        writer.submit(batch)
                        batch = []
                    elif self.progress and self.result.read % PROGRESS_EVERY_ROWS == 0:
                        self.progress(self.result)
                writer.submit(batch)
        except UnicodeDecodeError as exc:
            raise ImportFileError(
                f"The file stops being valid {encoding} after about {counting.bytes_read:,} bytes "
                f"(rows before that batch are imported): {exc.reason}."
            ) from None
        self.result.bytes_read = counting.bytes_read
        self.result.check()
        if self.progress:
            self.progress(self.result)
        return self.result

    def _rows(self, reader, header: list[str], positions: dict[str, int]) -> Iterator[_Row]:
        number = 0
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # E.g. a NUL byte or an unterminated quote at the end of a truncated file.
                number += 1
                self.result.read += 1
                row = _Row(number=number, raw={})
                row.errors.append(("", "", f"unreadable CSV record ({exc})"))
                yield row
                continue
            if not cells:
                continue  # a blank line is not a record
            number += 1
            self.result.read += 1
            row = _Row(number=number, raw={})
            if len(cells) != len(header):
                row.errors.append(("", "", f"wrong number of columns: expected {len(header)}, got {len(cells)} "
                                   "(truncated or malformed line)"))
                yield row
                continue
            row.raw = {column: cells[positions[column]].strip() for column in
                       (c.column for c in self.present_columns)}
            self._parse(row)
            yield row

    def _parse(self, row: _Row) -> None:
        for mapped in self.present_columns:
            text = row.raw[mapped.column]
            if text == "":
                if mapped.required:
                    row.errors.append((mapped.column, "", "required value is missing"))
                else:
                    row.values[mapped.target.name] = None if mapped.target.type != "str" or \
                        mapped.target.pii else ""
                continue
            value, reason = _parse_value(mapped, text)
            if reason:
                row.errors.append((mapped.column, _masked(mapped.target, text), reason))
            else:
                row.values[mapped.target.name] = value
        ROW_CHECKS[self.spec.kind](row, self.by_field)
        key = row.values.get(self.spec.key)
        if key is not None and not row.errors:
            first = self.first_row_by_key.setdefault(key, row.number)
            if first != row.number:
                row.errors.append((self.mapping.key_column, key, f"repeats the key of row {first}"))

    # Writing

    def _flush(self, batch: list[_Row]) -> None:
        if batch:
            self._resolve_foreign_keys(batch)
            valid = [row for row in batch if not row.errors]
            try:
                with transaction.atomic():
                    self._write(valid)
            except DatabaseError:
                logger.warning("Import batch of %d rows refused by the database; retrying row by row", len(valid))
                self._write_row_by_row(valid)
            for row in batch:
                if row.errors:
                    self.result.rejected += 1
                    self.result.errors_reported += self.report.write(row)
        if self.progress:
            self.progress(self.result)

    def _write_row_by_row(self, rows: list[_Row]) -> None:
        for row in rows:
            try:
                with transaction.atomic():
                    self._write([row])
            except DatabaseError as exc:
                constraint = getattr(getattr(exc, "__cause__", None), "diag", None)
                name = getattr(constraint, "constraint_name", None) or type(exc).__name__
                row.errors.append(("", "", f"refused by the database ({name})"))

    def _resolve_foreign_keys(self, batch: list[_Row]) -> None:
        # The branch first: an RM must work in the customer's branch.
        for target in sorted(self.stored_fields, key=lambda target: target.lookup == "staff_number"):
            if target.type != "fk":
                continue
            wanted = {row.values[target.name] for row in batch if not row.errors and row.values.get(target.name)}
            ids = self._lookup(target.lookup, wanted)
            column = self.by_field[target.name].column
            for row in batch:
                natural_key = row.values.get(target.name)
                if row.errors or natural_key is None:
                    continue
                if target.lookup == "staff_number":
                    code = rules.relationship_manager_violation(ids.get(natural_key),
                                                                branch_id=row.values.get("branch"))
                    if code:
                        row.errors.append((column, natural_key, str(rules.MESSAGES[code])))
                    else:
                        row.values[target.name] = ids[natural_key].user_id
                elif natural_key not in ids:
                    row.errors.append((column, natural_key, f"unknown {target.lookup.replace('_', ' ')}"))
                else:
                    row.values[target.name] = ids[natural_key]

    def _lookup(self, lookup: str, wanted: set[str]) -> dict[str, int]:
        # Branches, staff and products are small: cache them for the file. Customers: per batch.
        querysets = {
            "branch_code": (Branch.objects, "code"),
            "staff_number": (User.objects, "staff_number"),
            "product_code": (Product.objects, "code"),
            "customer_external_id": (Customer.objects, "external_id"),
        }
        manager, natural = querysets[lookup]
        cache = self._fk_cache.setdefault(lookup, {})
        missing = wanted - cache.keys()
        if missing and lookup == "staff_number":
            cache.update(rules.relationship_managers_by_staff_number(missing))
        elif missing:
            cache.update(manager.filter(**{f"{natural}__in": missing}).values_list(natural, "pk"))
        found = {key: cache[key] for key in wanted if key in cache}
        if lookup == "customer_external_id" and len(cache) > 10 * self.batch_size:
            cache.clear()
        return found

    def _write(self, rows: list[_Row]) -> None:
        if not rows:
            return
        model, key = self.spec.model, self.spec.key
        keys = [row.values[key] for row in rows]
        existing = {getattr(obj, key): obj for obj in model.objects.select_for_update().filter(**{f"{key}__in": keys})}
        now = timezone.now()
        to_create, to_update, changed_fields = [], [], set()
        for row in rows:
            obj = existing.get(row.values[key])
            if obj is None:
                to_create.append(row.values)
                continue
            changed = [t for t in self.stored_fields if self._differs(getattr(obj, self._attname(t)),
                                                                       row.values[t.name])]
            if not changed:
                continue
            for target in changed:
                setattr(obj, self._attname(target), row.values[target.name])
                changed_fields.add(self._attname(target))
                bidx = f"{target.name}_bidx"
                if target.pii and bidx in self.blind_index_fields:
                    setattr(obj, bidx, crypto.blind_index(kind=target.pii, value=row.values[target.name]))
                    changed_fields.add(bidx)
            to_update.append(obj)
        if to_create:
            self.inserter.insert(to_create)
        if to_update:
            if model is Customer:
                for obj in to_update:
                    obj.info_updated_at = now
                    obj.updated_at = now
                changed_fields |= {"info_updated_at", "updated_at"}
            model.objects.bulk_update(to_update, sorted(changed_fields))
        self.result.created += len(to_create)
        self.result.updated += len(to_update)
        self.result.unchanged += len(rows) - len(to_create) - len(to_update)

    @staticmethod
    def _attname(target: TargetField) -> str:
        return f"{target.name}_id" if target.type == "fk" else target.name

    @staticmethod
    def _differs(stored: Any, new: Any) -> bool:
        if stored in ("", None) and new in ("", None):
            return False
        return stored != new


def import_stream(*, source: IO[bytes], mapping: Mapping, bytes_total: int, report_stream: IO[str] | None = None,
                  batch_size: int = DEFAULT_BATCH_SIZE, progress: ProgressCallback | None = None) -> ImportResult:
    """Import a seekable binary stream with a validated mapping; write problems to report_stream.

    Call outside a transaction: each batch commits on its own. Raises ImportFileError (bad
    encoding, missing header columns: before any row is written).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    importer = _Importer(mapping=mapping, batch_size=batch_size, report=ReportWriter(report_stream),
                         progress=progress)
    result = importer.run(source, bytes_total=bytes_total)
    logger.info("Import %s (%s) finished in %.1f s: %s", mapping.name, mapping.kind,
                time.monotonic() - started, result.counts())
    return result
