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
per-value field machinery, which cost about twice the encryption itself), UPDATE only for rows
where a mapped value differs from the stored one (PII compared by blind index, or decrypted where
it has none; ``_CopyUpdater``), so re-running a file reports every row "unchanged". If the
database still refuses a batch (a constraint no row check covers), the batch is retried row by
row, each in a savepoint, so one bad row never blocks the others. A crash mid-file leaves the
batches committed so far; running the same file again is idempotent and completes it. Counters
always satisfy read = created + updated + unchanged + rejected.

Nothing here logs a value from the file: logs carry counts and row numbers only.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
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
from core.exports import safe_row
from core.fields import BlindIndexField, EncryptedTextField
from customers import consent, rules
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
    blank: Any = None  # what an empty optional cell stores (the model default of a NOT NULL column)
    attribute_id: int | None = None  # a custom attribute (``attr:<code>``), stored in its side table
    derived: bool = False  # set by the engine (the grade from the score), never from a column


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
        elif isinstance(model_field, models.PositiveSmallIntegerField):
            field_type = "int"
        else:
            field_type = "str"
        if model_field.null:
            blank = None
        elif model_field.has_default():
            blank = model_field.get_default()
        else:
            blank = ""
        fields[name] = TargetField(
            name=name, type=field_type,
            max_length=getattr(model_field, "max_length", None) if field_type == "str" else None,
            choices=frozenset(str(value) for value, _label in (model_field.choices or [])),
            blank=blank, **extra,
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
                "credit_score": {}, "region": {}, "risk_tolerance": {}, "preferred_channel": {},
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


ON_ERROR_REJECT, ON_ERROR_BLANK = "reject", "blank"


@dataclass(frozen=True)
class ColumnMapping:
    column: str
    target: TargetField
    required: bool
    values: dict[str, str] | None
    date_format: str | None
    ranges: tuple[tuple[Decimal, Decimal, str], ...] = ()  # [[lowest, highest], code], both inclusive
    lookup: dict[str, str] | None = None  # a lookup table of the mapping applied to the cell
    on_error: str = ON_ERROR_REJECT
    default: str | None = None  # the text used when the cell is empty


@dataclass(frozen=True)
class FieldConstant:
    """A field no column feeds: ``const`` always, ``default`` when no column gave a value."""

    target: TargetField
    text: str
    always: bool


@dataclass(frozen=True)
class Mapping:
    name: str
    kind: str
    spec: KindSpec
    required_columns: tuple[str, ...]
    columns: tuple[ColumnMapping, ...]
    key_column: str
    constants: tuple[FieldConstant, ...] = ()
    key_columns: tuple[str, ...] = ()  # a composed key: these columns joined with "|"


MAPPING_KEYS = {"kind", "description", "required_columns", "date_format", "datetime_format", "columns", "fields",
                "lookups", "key"}
COLUMN_KEYS = {"field", "required", "values", "format", "lookup", "on_error", "default"}
CONST_KEYS = {"const", "default"}
ATTRIBUTE_PREFIX = "attr:"
KEY_SEPARATOR = "|"


def _attribute_targets() -> dict[str, TargetField]:
    """``attr:<code>`` for every custom attribute in use, typed as declared (read at parse time)."""
    from customers.models import CustomAttribute, CustomAttributeType

    types = {CustomAttributeType.NUMBER: "decimal4", CustomAttributeType.TEXT: "str",
             CustomAttributeType.DATE: "date", CustomAttributeType.CHOICE: "choice"}
    return {
        f"{ATTRIBUTE_PREFIX}{attribute.code}": TargetField(
            name=f"{ATTRIBUTE_PREFIX}{attribute.code}", type=types[attribute.type],
            max_length=200 if attribute.type == CustomAttributeType.TEXT else None,
            choices=frozenset(str(choice) for choice in attribute.choices or ()),
            attribute_id=attribute.pk, blank=None,
        )
        for attribute in CustomAttribute.objects.filter(is_active=True)
    }


def _ranges_parse(name: str, column: str, raw: list) -> tuple[tuple[Decimal, Decimal, str], ...]:
    ranges = []
    for entry in raw:
        try:
            (lowest, highest), code = entry
            lowest, highest = Decimal(str(lowest)), Decimal(str(highest))
        except (TypeError, ValueError, InvalidOperation):
            raise ImportMappingError(
                f"{name}: 'values' of column {column!r} as a list holds [[lowest, highest], code] ranges."
            ) from None
        if not isinstance(code, str) or lowest > highest:
            raise ImportMappingError(f"{name}: column {column!r}: range {entry!r} is not [[lowest, highest], code].")
        ranges.append((lowest, highest, code))
    ranges.sort()
    for (_low, high, _code), (next_low, _high, _next) in itertools.pairwise(ranges):
        if next_low <= high:
            raise ImportMappingError(f"{name}: column {column!r}: value ranges overlap.")
    return tuple(ranges)


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
    targets = dict(spec.fields)
    if kind == ImportKind.CUSTOMERS and ATTRIBUTE_PREFIX in json.dumps(raw, ensure_ascii=False):
        targets.update(_attribute_targets())  # read from the database only when the mapping names one
    lookups = raw.get("lookups", {})
    if not isinstance(lookups, dict) or not all(
        isinstance(table, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in table.items())
        for table in lookups.values()
    ):
        raise ImportMappingError(f"{name}: 'lookups' must be an object of name -> {{code: value}} tables.")
    columns: list[ColumnMapping] = []
    targets_seen: dict[str, str] = {}
    for column, column_raws in columns_raw.items():
        for column_raw in column_raws if isinstance(column_raws, list) else [column_raws]:
            if isinstance(column_raw, str):
                column_raw = {"field": column_raw}
            if not isinstance(column_raw, dict):
                raise ImportMappingError(f"{name}: column {column!r} must map to a field name or an object.")
            unknown_keys = set(column_raw) - COLUMN_KEYS
            if unknown_keys:
                raise ImportMappingError(f"{name}: column {column!r} has unknown keys {sorted(unknown_keys)}.")
            target_name = column_raw.get("field")
            if target_name not in targets:
                raise ImportMappingError(
                    f"{name}: column {column!r} maps to unknown field {target_name!r}; "
                    f"a {kind} import can set {sorted(targets)}."
                )
            if target_name in targets_seen:
                raise ImportMappingError(
                    f"{name}: columns {targets_seen[target_name]!r} and {column!r} both map to {target_name!r}."
                )
            targets_seen[target_name] = column
            columns.append(_column_parse(name, column, column_raw, targets[target_name], lookups, default_formats))
    constants = []
    fields_raw = raw.get("fields", {})
    if not isinstance(fields_raw, dict):
        raise ImportMappingError(f"{name}: 'fields' must be an object of field -> {{\"const\" | \"default\": value}}.")
    for target_name, const_raw in fields_raw.items():
        if target_name not in targets:
            raise ImportMappingError(f"{name}: 'fields' names unknown field {target_name!r}.")
        if not isinstance(const_raw, dict) or len(const_raw) != 1 or set(const_raw) - CONST_KEYS \
                or not isinstance(next(iter(const_raw.values())), str):
            raise ImportMappingError(
                f"{name}: field {target_name!r} takes {{\"const\": \"value\"}} or {{\"default\": \"value\"}}."
            )
        always = "const" in const_raw
        if always and target_name in targets_seen:
            raise ImportMappingError(f"{name}: field {target_name!r} is a constant and mapped from a column.")
        target = targets[target_name]
        text = next(iter(const_raw.values()))
        probe = ColumnMapping(column=target_name, target=target, required=False, values=None,
                              date_format=default_formats.get(target.type))
        _value, reason = _parse_value(probe, text)
        if reason:
            raise ImportMappingError(f"{name}: the constant of field {target_name!r} is invalid: {reason}.")
        constants.append(FieldConstant(target=target, text=text, always=always))
        targets_seen.setdefault(target_name, "")
    missing_targets = sorted(name_ for name_, target in spec.fields.items()
                             if target.required and name_ not in targets_seen)
    key_raw = raw.get("key")
    key_columns: tuple[str, ...] = ()
    if key_raw is not None:
        if not isinstance(key_raw, list) or len(key_raw) < 2 or not all(isinstance(c, str) for c in key_raw):
            raise ImportMappingError(f"{name}: 'key' lists two or more columns composing the {spec.key}.")
        if spec.key in targets_seen:
            raise ImportMappingError(f"{name}: {spec.key!r} comes from 'key'; do not map a column to it too.")
        key_columns = tuple(key_raw)
        missing_targets = [target for target in missing_targets if target != spec.key]
    if missing_targets:
        raise ImportMappingError(f"{name}: a {kind} import needs columns for {missing_targets}.")
    required_columns = raw.get("required_columns", [])
    if not isinstance(required_columns, list) or not all(isinstance(c, str) for c in required_columns):
        raise ImportMappingError(f"{name}: 'required_columns' must be a list of column names.")
    not_mapped = sorted(set(required_columns) - set(columns_raw) - set(key_columns))
    if not_mapped:
        raise ImportMappingError(f"{name}: required columns {not_mapped} are not mapped.")
    # Columns feeding a required field (or the key) must be in the header too.
    required = list(required_columns) + [c.column for c in columns if c.required
                                         and c.column not in required_columns]
    required += [column for column in key_columns if column not in required]
    return Mapping(
        name=name, kind=kind, spec=spec, required_columns=tuple(dict.fromkeys(required)), columns=tuple(columns),
        key_column=targets_seen.get(spec.key) or KEY_SEPARATOR.join(key_columns), constants=tuple(constants),
        key_columns=key_columns,
    )


def _column_parse(name: str, column: str, column_raw: dict, target: TargetField, lookups: dict,
                  default_formats: dict) -> ColumnMapping:
    values = column_raw.get("values")
    ranges: tuple = ()
    if isinstance(values, list):
        ranges = _ranges_parse(name, column, values)
        codes = {code for _low, _high, code in ranges}
        values = None
    elif values is not None:
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ImportMappingError(f"{name}: 'values' of column {column!r} must map codes to strings.")
        codes = set(values.values())
    if values is not None or ranges:
        if target.type != "choice":
            raise ImportMappingError(f"{name}: column {column!r}: field {target.name!r} takes no value map.")
        invalid = sorted(codes - target.choices)
        if invalid:
            raise ImportMappingError(
                f"{name}: column {column!r} maps to {invalid}, not among {target.name!r}'s "
                f"values {sorted(target.choices)}."
            )
    date_format = column_raw.get("format")
    if date_format is not None and target.type not in ("date", "datetime"):
        raise ImportMappingError(f"{name}: column {column!r}: 'format' applies to date fields only.")
    if target.type in ("date", "datetime"):
        date_format = date_format or default_formats[target.type]
    lookup_name = column_raw.get("lookup")
    if lookup_name is not None and lookup_name not in lookups:
        raise ImportMappingError(f"{name}: column {column!r} uses lookup {lookup_name!r}, not in 'lookups'.")
    on_error = column_raw.get("on_error", ON_ERROR_REJECT)
    if on_error not in (ON_ERROR_REJECT, ON_ERROR_BLANK):
        raise ImportMappingError(f"{name}: column {column!r}: 'on_error' is 'reject' or 'blank'.")
    required = bool(column_raw.get("required", target.required))
    if on_error == ON_ERROR_BLANK and (required or target.name == "external_id"):
        raise ImportMappingError(f"{name}: column {column!r} feeds a required field; it cannot be left blank.")
    default = column_raw.get("default")
    if default is not None and not isinstance(default, str):
        raise ImportMappingError(f"{name}: column {column!r}: 'default' must be a string.")
    return ColumnMapping(
        column=column, target=target, required=required, values=values, date_format=date_format,
        ranges=ranges, lookup=lookups[lookup_name] if lookup_name else None, on_error=on_error, default=default,
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
    warnings_reported: int = 0
    warnings: list[str] = field(default_factory=list)  # about the file (absent optional columns)
    dry_run: bool = False

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
    warnings: list[tuple[str, str, str]] = field(default_factory=list)  # imported, with the field left empty

    def fail(self, mapped: ColumnMapping | None, value: str, reason: str) -> None:
        """Reject the row, or with ``on_error: blank`` import it with this field empty and warn."""
        if mapped is not None and mapped.on_error == ON_ERROR_BLANK:
            self.values[mapped.target.name] = mapped.target.blank
            self.warnings.append((mapped.column, value, f"{reason}; imported empty (on_error: blank)"))
        else:
            self.errors.append((mapped.column if mapped else "", value, reason))


class ReportWriter:
    """The error report: CSV with a UTF-8 BOM (Excel opens it), PII values masked, formulas neutralised."""

    def __init__(self, stream: IO[str] | None):
        self._writer = csv.writer(stream) if stream is not None else None
        if stream is not None:
            stream.write("\ufeff")
            self._writer.writerow(REPORT_HEADER)

    def write(self, row: _Row) -> int:
        if self._writer is not None:
            for column, value, reason in row.errors:
                self._writer.writerow(safe_row((row.number, column, value, reason)))
            for column, value, reason in row.warnings:
                self._writer.writerow(safe_row((row.number, column, value, f"warning: {reason}")))
        return len(row.errors)

    def warn_file(self, column: str, reason: str) -> None:
        """A warning about the whole file (row "header"), e.g. an optional mapped column it lacks."""
        if self._writer is not None:
            self._writer.writerow(safe_row(("header", column, "", f"warning: {reason}")))


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
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_DECIMAL_LIMIT = Decimal(10) ** 16


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


def _parse_decimal(text: str, *, places: int) -> tuple[Decimal | None, str | None]:
    cleaned = _THOUSANDS.sub("", text) if "," in text else text
    if not _PLAIN_NUMBER.fullmatch(cleaned):
        return None, "not a number"
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        return None, "not a number"
    if amount.as_tuple().exponent < -places:
        return None, f"more than {places} decimal places"
    if abs(amount) >= _DECIMAL_LIMIT:
        return None, "too large"
    return amount, None


def _parse_value(mapping_column: ColumnMapping, text: str) -> tuple[Any, str | None]:
    """Return (value, None) or (None, reason). Reasons never quote the value."""
    target = mapping_column.target
    if mapping_column.lookup is not None:
        if text not in mapping_column.lookup:
            return None, "not in the mapping's lookup table"
        text = mapping_column.lookup[text]
    if target.type == "choice" and mapping_column.ranges:
        number, reason = _parse_decimal(text, places=4)
        if reason:
            return None, reason
        for lowest, highest, code in mapping_column.ranges:
            if lowest <= number <= highest:
                return code, None
        return None, "outside every range of the value map"
    if target.type == "int":
        if not (text.isascii() and text.isdigit()) or len(text) > 9:
            return None, "not a whole number"
        return int(text), None
    if target.type == "decimal4":
        return _parse_decimal(text, places=4)
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
        return _parse_decimal(text, places=2)
    if target.type == "fk":
        return text, None
    if target.max_length is not None and len(text) > target.max_length:
        return None, f"longer than {target.max_length} characters"
    if target.pii == "id_number":
        text = text.upper()
    return text, None


def _check_customer(row: _Row, by_field: dict[str, ColumnMapping], today: date) -> None:
    """The customer rules (customers.rules), the same the API applies; values normalised in place."""
    values = row.values
    failed = _failed(row, by_field)

    def reject(field_name: str, code: str) -> None:
        mapped = by_field.get(field_name)
        column = mapped.column if mapped else ""
        row.fail(mapped, _masked(mapped.target if mapped else None, row.raw.get(column, "")),
                 str(rules.MESSAGES[code]))

    checked = {name: values[name] for name in ("phone", "id_number", "credit_score", *rules.DATE_FIELDS)
               if name in values and name not in failed}
    if values.get("id_type", RESIDENT_ID_TYPE) != RESIDENT_ID_TYPE:
        checked.pop("id_number", None)  # a passport number is not a resident ID
    cleaned, violations = rules.customer_values_clean(checked, today=today)
    for name in ("phone", "id_number"):
        if cleaned.get(name):
            values[name] = cleaned[name]
    for violation in violations:
        reject(violation.field, violation.code)
    if row.errors:
        return
    id_number = values.get("id_number") if values.get("id_type", RESIDENT_ID_TYPE) == RESIDENT_ID_TYPE else None
    for violation in rules.customer_state_violations(
        status=values.get("status"), closed_on=values.get("closed_on"), id_number=id_number,
        birth_date=values.get("birth_date"), has_closed_on_field="closed_on" in by_field,
    ):
        if violation.field == "closed_on" and "closed_on" not in by_field:
            continue
        reject(violation.field, violation.code)


def _check_holding(row: _Row, by_field: dict[str, ColumnMapping], today: date) -> None:
    opened_on, closed_on = row.values.get("opened_on"), row.values.get("closed_on")
    if opened_on and closed_on and closed_on < opened_on:
        column = by_field["closed_on"].column
        row.errors.append((column, row.raw.get(column, ""), "closed before it was opened"))


def _check_transaction(row: _Row, by_field: dict[str, ColumnMapping], today: date) -> None:
    amount = row.values.get("amount")
    if amount is not None and amount <= 0:
        column = by_field["amount"].column
        row.errors.append((column, row.raw.get(column, ""), "amount must be positive (direction says in or out)"))


def _failed(row: _Row, by_field: dict[str, ColumnMapping]) -> set[str]:
    failed_columns = {column for column, _value, _reason in row.errors}
    return {name for name, mapped in by_field.items() if mapped.column in failed_columns}


ROW_CHECKS: dict[str, Callable[[_Row, dict[str, ColumnMapping], date], None]] = {
    ImportKind.CUSTOMERS: _check_customer,
    ImportKind.HOLDINGS: _check_holding,
    ImportKind.TRANSACTIONS: _check_transaction,
}


# --- The engine ------------------------------------------------------------------------------------


ProgressCallback = Callable[[ImportResult], None]


_COPY_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _encrypted_copy_text(plaintext: str | None) -> str:
    """A PII value in COPY's text format: encrypted, or NULL when empty (what the insert and update paths store)."""
    return _COPY_NULL if plaintext in (None, "") else crypto.encrypt(plaintext=plaintext)


def _copy_text(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return _COPY_NULL
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    # Escaping only what needs it: translate() copies every string (2.7 us for a 140-character one).
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


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
            if model_field.primary_key or model_field.generated:  # PostgreSQL computes generated columns
                continue
            self.columns.append(model_field.column)
            self.getters.append(self._getter(model_field, stored_by_attname, extra_now))

    @staticmethod
    def _getter(model_field, stored_by_attname: dict[str, str], extra_now: tuple[str, ...]):
        name = stored_by_attname.get(model_field.attname)
        if name is not None and isinstance(model_field, EncryptedTextField):
            return lambda values, now: _encrypted_copy_text(values[name])
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
        # copy_expert is psycopg's own: wrapped so a refusal is a django DatabaseError like any other.
        with connection.cursor() as cursor, connection.wrap_database_errors:
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", buffer)


def _differs(stored: Any, new: Any) -> bool:
    """Return whether an import changes a stored value (empty and NULL are the same: nothing)."""
    if stored in ("", None) and new in ("", None):
        return False
    return stored != new


class _CopyUpdater:
    """UPDATE the existing rows of a batch: read them raw, compare, one COPY into a temporary table and
    one ``UPDATE ... FROM`` it.

    Stored values are read as they are in the database, ciphertext included: a PII value with a
    blind index has changed when its blind index has (the normalised value, what search and
    duplicates go by); one without is decrypted to compare. Each changed row writes the batch's
    changed columns (their union); in the columns a row did not change it writes back what it
    read (the same ciphertext), so nothing unchanged is re-encrypted. auto_now fields (and
    ``extra_now``) are set to now on every row written, as ``save()`` would.
    """

    def __init__(self, *, model: type[models.Model], stored: list[TargetField], key: str,
                 extra_now: tuple[str, ...] = ()):
        self.model = model
        meta = model._meta
        blind_indexes = {f.source: f for f in meta.concrete_fields if isinstance(f, BlindIndexField)}
        # (target, model field, its blind index field or None); the key never changes.
        self.fields = [(target, meta.get_field(target.name), blind_indexes.get(target.name))
                       for target in stored if target.name != key]
        self.key_column = meta.get_field(key).column
        self.now_columns = [f.column for f in meta.concrete_fields
                            if getattr(f, "auto_now", False) or f.name in extra_now]
        self.read_columns = [meta.pk.column, self.key_column]
        self.positions = []  # per field: where a read row holds its stored value (its blind index next)
        for _target, model_field, bidx in self.fields:
            self.positions.append(len(self.read_columns))
            self.read_columns.append(model_field.column)
            if bidx is not None:
                self.read_columns.append(bidx.column)

    def read(self, keys: list[str], *, lock: bool) -> dict[str, tuple]:
        """Return the stored rows of these keys, raw, by key (locked FOR UPDATE unless ``lock`` is false)."""
        quote = connection.ops.quote_name
        statement = (f"SELECT {', '.join(quote(column) for column in self.read_columns)} "  # noqa: S608
                     f"FROM {quote(self.model._meta.db_table)} WHERE {quote(self.key_column)} = ANY(%s) "
                     # Locked in primary-key order, so two imports of overlapping files cannot deadlock.
                     f"ORDER BY {quote(self.model._meta.pk.column)}" + (" FOR UPDATE" if lock else ""))
        with connection.cursor() as cursor:
            cursor.execute(statement, [keys])
            return {row[1]: row for row in cursor.fetchall()}

    def changes(self, stored: tuple, values: dict[str, Any]) -> dict[int, str | None]:
        """Return the fields whose new value differs from the stored one: {index into ``self.fields``: the
        new value's blind index when the comparison computed it (``update`` writes it), else None}.

        A PII value is compared by blind index when the stored one has one: a value that differs only
        in what the normaliser removes (spaces, case, full-width digits, a +86 prefix) is the same value
        and is not rewritten. A stored value without a blind index is decrypted and compared.
        """
        changed: dict[int, str | None] = {}
        for index, (target, model_field, bidx) in enumerate(self.fields):
            old, new = stored[self.positions[index]], values.get(target.name)
            stored_bidx = stored[self.positions[index] + 1] if bidx is not None else None
            new_bidx = None
            if stored_bidx:
                new_bidx = crypto.blind_index(kind=bidx.normalizer, value=new)
                differs = _differs(stored_bidx, new_bidx)
            elif isinstance(model_field, EncryptedTextField):  # no blind index, or a value that normalises to none
                differs = _differs(crypto.decrypt(stored=old) if old else old, new)
            else:
                differs = _differs(old, new)
            if differs:
                changed[index] = new_bidx
        return changed

    def update(self, changed_rows: list[tuple[tuple, dict[str, Any], dict[int, str | None]]]) -> None:
        """Write ``(stored, values, changes())`` rows: the union of their changed columns."""
        written = sorted({index for _stored, _values, indexes in changed_rows for index in indexes})
        columns = [self.model._meta.pk.column]
        for index in written:
            _target, model_field, bidx = self.fields[index]
            columns.append(model_field.column)
            if bidx is not None:
                columns.append(bidx.column)
        columns += self.now_columns
        now = timezone.now().isoformat()
        buffer = io.StringIO()
        for stored, values, changed in changed_rows:
            cells = [str(stored[0])]
            for index in written:
                target, model_field, bidx = self.fields[index]
                at = self.positions[index]
                if index not in changed:
                    cells.append(_copy_text(stored[at]))
                    if bidx is not None:
                        cells.append(_copy_text(stored[at + 1]))
                    continue
                new = values.get(target.name)
                if isinstance(model_field, EncryptedTextField):
                    cells.append(_encrypted_copy_text(new))
                else:
                    cells.append(_copy_text(new))
                if bidx is not None:
                    blind = changed[index]
                    if blind is None:  # not computed by the comparison (the stored value had none)
                        blind = crypto.blind_index(kind=bidx.normalizer, value=new)
                    cells.append(_copy_text(blind))
            cells += [now] * len(self.now_columns)
            buffer.write("\t".join(cells))
            buffer.write("\n")
        buffer.seek(0)
        quote = connection.ops.quote_name
        table, pk = quote(self.model._meta.db_table), quote(self.model._meta.pk.column)
        column_list = ", ".join(quote(column) for column in columns)
        with connection.cursor() as cursor, connection.wrap_database_errors:
            # Dropped at commit; dropped first as well, for a caller that batches inside one transaction.
            cursor.execute("DROP TABLE IF EXISTS pg_temp.import_update")
            cursor.execute(f"CREATE TEMPORARY TABLE import_update ON COMMIT DROP AS "  # noqa: S608
                           f"SELECT {column_list} FROM {table} WITH NO DATA")
            cursor.copy_expert(f"COPY import_update ({column_list}) FROM STDIN", buffer)
            assignments = ", ".join(f"{quote(column)} = s.{quote(column)}" for column in columns[1:])
            cursor.execute(f"UPDATE {table} AS t SET {assignments} FROM import_update s "  # noqa: S608
                           f"WHERE t.{pk} = s.{pk}")


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

    def __init__(self, write: Callable[[list[_Row]], None], *, inline: bool = False):
        self.write = write
        self.inline = inline or connection.in_atomic_block
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
                 progress: ProgressCallback | None, dry_run: bool = False):
        self.mapping = mapping
        self.spec = mapping.spec
        self.by_field = {c.target.name: c for c in mapping.columns}
        self.batch_size = batch_size
        self.report = report
        self.progress = progress
        self.dry_run = dry_run
        self.result = ImportResult(dry_run=dry_run)
        self.first_row_by_key: dict[str, int] = {}
        self._fk_cache: dict[str, dict[str, Any]] = {}
        self.grade_policy = None
        self.today = timezone.localdate()  # once per file: birth dates up to the day the import started
        if self.spec.model is Customer and "credit_score" in self.by_field and "credit_rating" not in self.by_field:
            self.grade_policy = rules.credit_grade_policy_latest()

    # Reading

    def run(self, source: IO[bytes], *, bytes_total: int) -> ImportResult:
        head = source.read(ENCODING_SNIFF_BYTES)
        encoding = detect_encoding(head)
        self.result.encoding = encoding
        self.result.bytes_total = bytes_total
        header = self._check_structure(source, encoding)
        source.seek(0)
        counting = _CountingReader(source)
        text = io.TextIOWrapper(io.BufferedReader(counting), encoding=encoding, newline="")
        reader = csv.reader(text)
        next(reader)
        positions = {name: index for index, name in enumerate(header)}
        self.present_columns = [c for c in self.mapping.columns if c.column in positions]
        for absent in (c for c in self.mapping.columns if c.column not in positions):
            message = f"optional column absent from the file: field {absent.target.name!r} not imported"
            self.result.warnings.append(f"{absent.column}: {message}")
            self.report.warn_file(absent.column, message)
        fed = {c.target.name for c in self.present_columns} | {c.target.name for c in self.mapping.constants}
        self.stored_fields = [c.target for c in self.present_columns
                              if not c.target.virtual and c.target.attribute_id is None]
        self.stored_fields += [c.target for c in self.mapping.constants
                               if c.target.name not in {t.name for t in self.stored_fields}
                               and not c.target.virtual and c.target.attribute_id is None]
        if self.mapping.key_columns:
            self.stored_fields.append(self.spec.fields[self.spec.key])
        if self.grade_policy is not None and "credit_score" in fed:
            self.stored_fields += [self.spec.fields["credit_rating"],
                                   TargetField(name="credit_grade_policy", type="fk", derived=True)]
        self.attribute_fields = [c.target for c in self.present_columns if c.target.attribute_id is not None]
        self.attribute_fields += [c.target for c in self.mapping.constants if c.target.attribute_id is not None]
        extra_now = ("info_updated_at",) if self.spec.model is Customer else ()
        self.inserter = _CopyInserter(model=self.spec.model, stored=self.stored_fields, extra_now=extra_now)
        self.updater = _CopyUpdater(model=self.spec.model, stored=self.stored_fields, key=self.spec.key,
                                    extra_now=extra_now)
        batch: list[_Row] = []
        with _BatchWriter(self._flush, inline=self.dry_run) as writer:
            for row in self._rows(reader, header, positions):
                batch.append(row)
                self.result.bytes_read = counting.bytes_read
                if len(batch) >= self.batch_size:
                    writer.submit(batch)
                    batch = []
                elif self.progress and self.result.read % PROGRESS_EVERY_ROWS == 0:
                    self.progress(self.result)
            writer.submit(batch)
        self.result.bytes_read = counting.bytes_read
        self.result.check()
        if self.progress:
            self.progress(self.result)
        return self.result

    def _check_structure(self, source: IO[bytes], encoding: str) -> list[str]:
        """Read the whole file once before writing anything; return its header.

        All or nothing for the file's structure: bytes that stop decoding, an unreadable CSV
        record (an unterminated quote, a NUL byte) or a last line cut short (no line end and too
        few columns) raise ImportFileError, and nothing is written. Rows with their own defects
        are found later, row by row.
        """
        source.seek(0)
        text = io.TextIOWrapper(io.BufferedReader(_CountingReader(source)), encoding=encoding, newline="")
        reader = csv.reader(text)
        records = 0
        try:
            header = next(reader, None)
            if header is None:
                raise ImportFileError("The file is empty: no header line.")
            header = [name.strip() for name in header]
            missing = [column for column in self.mapping.required_columns if column not in header]
            if missing:
                raise ImportFileError(f"The header lacks required columns: {', '.join(missing)}.")
            last: list[str] = []
            for cells in reader:
                records += 1
                last = cells or last
        except UnicodeDecodeError as exc:
            if exc.reason == "unexpected end of data":
                raise ImportFileError(
                    f"The file ends in the middle of a character after record {records:,} (truncated); "
                    "nothing was imported."
                ) from None
            raise ImportFileError(
                f"The file stops being valid {encoding} after record {records:,} ({exc.reason}); "
                "nothing was imported. Export it again in one encoding."
            ) from None
        except csv.Error:
            raise ImportFileError(
                f"CSV record {records + 1:,} cannot be read (an unterminated quote or a NUL byte); "
                "nothing was imported."
            ) from None
        source.seek(-1, io.SEEK_END) if records else source.seek(0)
        ends_with_newline = source.read(1) in (b"\n", b"\r")
        if records and last and len(last) != len(header) and not ends_with_newline:
            raise ImportFileError(
                f"The file ends in the middle of record {records:,} (truncated); nothing was imported."
            )
        return header

    def _rows(self, reader, header: list[str], positions: dict[str, int]) -> Iterator[_Row]:
        number = 0
        key_positions = [positions[column] for column in self.mapping.key_columns]
        for cells in reader:
            if not cells:
                continue  # a blank line is not a record
            number += 1
            self.result.read += 1
            row = _Row(number=number, raw={})
            if len(cells) != len(header):
                row.errors.append(("", "", f"wrong number of columns: expected {len(header)}, got {len(cells)} "
                                   "(malformed line)"))
                yield row
                continue
            row.raw = {column: cells[positions[column]].strip() for column in
                       (c.column for c in self.present_columns)}
            if key_positions:
                parts = [cells[position].strip() for position in key_positions]
                if all(parts):
                    row.values[self.spec.key] = KEY_SEPARATOR.join(parts)
                else:
                    row.errors.append((self.mapping.key_column, "", "a column of the composed key is empty"))
            self._parse(row)
            yield row

    def _parse(self, row: _Row) -> None:
        for mapped in self.present_columns:
            text = row.raw[mapped.column]
            if text == "" and mapped.default is not None:
                text = mapped.default
            if text == "":
                if mapped.required:
                    row.errors.append((mapped.column, "", "required value is missing"))
                else:
                    row.values[mapped.target.name] = mapped.target.blank
                continue
            value, reason = _parse_value(mapped, text)
            if reason:
                row.fail(mapped, _masked(mapped.target, text), reason)
            else:
                row.values[mapped.target.name] = value
        for constant in self.mapping.constants:
            if constant.always or row.values.get(constant.target.name) in (None, ""):
                probe = ColumnMapping(column=constant.target.name, target=constant.target, required=False,
                                      values=None, date_format="%Y-%m-%d")
                row.values[constant.target.name] = _parse_value(probe, constant.text)[0]
        ROW_CHECKS[self.spec.kind](row, self.by_field, self.today)
        if self.grade_policy is not None and not row.errors:
            rules.credit_grade_derive(row.values, policy=self.grade_policy)
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
                # Never the exception's text: PostgreSQL's DETAIL quotes the failing row's values.
                logger.warning("Import batch of %d rows refused by the database; retrying row by row", len(valid))
                self._write_row_by_row(valid)
            for row in batch:
                if row.errors:
                    self.result.rejected += 1
                    self.result.errors_reported += self.report.write(row)
                elif row.warnings:
                    self.result.warnings_reported += len(row.warnings)
                    self.report.write(row)
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
        targets = [t for t in self.stored_fields if t.type == "fk" and not t.derived]
        for target in sorted(targets, key=lambda target: target.lookup == "staff_number"):
            wanted = {row.values[target.name] for row in batch if not row.errors and row.values.get(target.name)}
            ids = self._lookup(target.lookup, wanted)
            mapped = self.by_field.get(target.name)
            for row in batch:
                natural_key = row.values.get(target.name)
                if row.errors or natural_key is None:
                    continue
                if target.lookup == "staff_number":
                    code = rules.relationship_manager_violation(ids.get(natural_key),
                                                                branch_id=row.values.get("branch"))
                    if code:
                        row.fail(mapped, natural_key, str(rules.MESSAGES[code]))
                    else:
                        row.values[target.name] = ids[natural_key].user_id
                elif natural_key not in ids:
                    row.fail(mapped, natural_key, f"unknown {target.lookup.replace('_', ' ')}")
                else:
                    row.values[target.name] = ids[natural_key]

    def _lookup(self, lookup: str, wanted: set[str]) -> dict[str, Any]:
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
        existing = self.updater.read([row.values[key] for row in rows], lock=not self.dry_run)
        to_create, to_update = [], []
        consent_reported: list[tuple[str, str]] = []  # (customer number, legacy consent field) written
        for row in rows:
            stored = existing.get(row.values[key])
            if stored is None:
                to_create.append(row.values)
                consent_reported += [(row.values[key], name) for name in consent.LEGACY_FIELD_PURPOSE
                                     if row.values.get(name)]
                continue
            changed = self.updater.changes(stored, row.values)
            if not changed:
                continue
            consent_reported += [(row.values[key], self.updater.fields[index][0].name) for index in changed
                                 if self.updater.fields[index][0].name in consent.LEGACY_FIELD_PURPOSE]
            to_update.append((stored, row.values, changed))
        if not self.dry_run:
            if to_create:
                self.inserter.insert(to_create)
            if to_update:
                self.updater.update(to_update)
            if self.attribute_fields:
                self._write_attributes(rows)
            if consent_reported and model is Customer:  # per channel, in the batch's transaction
                ids = dict(Customer.objects.filter(external_id__in={number for number, _field in consent_reported})
                           .values_list("external_id", "pk"))
                consent.consent_record_reported(reported=[(ids[number], name) for number, name in consent_reported])
        # A row whose only change is a custom attribute value counts as unchanged (its columns are).
        updated = len(to_update)
        self.result.created += len(to_create)
        self.result.updated += updated
        self.result.unchanged += len(rows) - len(to_create) - updated

    def _write_attributes(self, rows: list[_Row]) -> int:
        """Upsert the custom attribute values of the batch's customers; return how many changed."""
        numbers = [row.values[self.spec.key] for row in rows]
        ids = dict(Customer.objects.filter(external_id__in=numbers).values_list("external_id", "pk"))
        columns = {"decimal4": "value_number", "date": "value_date"}
        changed = 0
        with connection.cursor() as cursor:
            for target in self.attribute_fields:
                column = columns.get(target.type, "value_text")
                customer_ids, values = [], []
                for row in rows:
                    customer_ids.append(ids[row.values[self.spec.key]])
                    value = row.values.get(target.name)
                    values.append(None if value in (None, "") else str(value))
                cast = {"value_number": "numeric", "value_date": "date"}.get(column, "text")
                cursor.execute(
                    f"""
                    WITH incoming AS (
                        SELECT * FROM unnest(%s::bigint[], %s::{cast}[]) AS t(customer_id, value)
                    ), deleted AS (
                        DELETE FROM customers_customerattributevalue v USING incoming i
                        WHERE v.customer_id = i.customer_id AND v.attribute_id = %s AND i.value IS NULL
                        RETURNING 1
                    ), upserted AS (
                        INSERT INTO customers_customerattributevalue
                            (customer_id, attribute_id, value_number, value_text, value_date)
                        SELECT customer_id, %s,
                               {"value" if column == "value_number" else "NULL"},
                               {"value" if column == "value_text" else "''"},
                               {"value" if column == "value_date" else "NULL"}
                        FROM incoming WHERE value IS NOT NULL
                        ON CONFLICT (customer_id, attribute_id) DO UPDATE SET {column} = EXCLUDED.{column}
                        WHERE customers_customerattributevalue.{column} IS DISTINCT FROM EXCLUDED.{column}
                        RETURNING 1
                    )
                    SELECT (SELECT count(*) FROM deleted) + (SELECT count(*) FROM upserted)
                    """,  # noqa: S608 (column names are ours)
                    [customer_ids, values, target.attribute_id, target.attribute_id],
                )
                changed += cursor.fetchone()[0]
        return changed


def import_stream(*, source: IO[bytes], mapping: Mapping, bytes_total: int, report_stream: IO[str] | None = None,
                  batch_size: int = DEFAULT_BATCH_SIZE, progress: ProgressCallback | None = None,
                  dry_run: bool = False) -> ImportResult:
    """Import a seekable binary stream with a validated mapping; write problems to report_stream.

    Call outside a transaction: each batch commits on its own. Raises ImportFileError (bad
    encoding, missing header columns, a truncated file: before any row is written).
    ``dry_run`` validates every row (lookups included) and writes the report, changing nothing.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    importer = _Importer(mapping=mapping, batch_size=batch_size, report=ReportWriter(report_stream),
                         progress=progress, dry_run=dry_run)
    result = importer.run(source, bytes_total=bytes_total)
    logger.info("Import %s (%s) finished in %.1f s: %s", mapping.name, mapping.kind,
                time.monotonic() - started, result.counts())
    return result
