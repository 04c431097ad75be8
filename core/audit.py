"""The append-only audit log: its one write path, the sealer that chains it, and the check.

A row is written unsealed in the caller's transaction (no lock: audited transactions across
the bank run side by side). After commit one sealer at a time (``audit_seal``, under a
non-blocking advisory try-lock) gives the committed unsealed rows, in id order, their place in
the chain (``chain_seq``), ``prev_hash`` (the previous sealed row's ``hash``) and ``hash`` =
sha256(prev_hash + canonical JSON of the row), so editing or deleting a sealed row breaks the
chain at that point. The sealer runs right after each audited commit and, as a backstop, from
beat every minute (``core.audit_seal_task``).

A database trigger (core migrations 0002, 0004) refuses DELETE, TRUNCATE and every UPDATE but
the one sealing of an unsealed row; the chain catches what the trigger cannot: someone who
disables it as a database superuser. Deleting the newest rows (sealed or still pending) leaves
a valid shorter chain; only a copy of a recent head hash kept outside the database (a report,
a ticket) can show that.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import context
from core.models import GENESIS_HASH, ApiReadTally, AuditEvent

logger = logging.getLogger(__name__)

# Any fixed bigint will do, as long as every sealer takes the same one.
AUDIT_CHAIN_LOCK_KEY = int.from_bytes(b"crmaudit", "big")
VERIFY_CHUNK_SIZE = 2000
SEAL_BATCH_SIZE = 2000


class AuditAction:
    """Actions recorded by core and accounts; other apps pass their own dotted strings."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    LOCKED_OUT = "auth.locked_out"
    SESSION_EXPIRED = "auth.session_expired"
    ACCESS_DENIED = "access.denied"
    PII_REVEAL = "pii.reveal"
    EXPORT = "data.export"


# --- Readable labels of actions (the admin's audit log) --------------------------------------
# Each app names its own actions (AppConfig.ready() -> audit_action_labels_register), as chapters
# register menu entries and notification kinds; tests/core/test_audit_admin.py fails when an
# action written anywhere in the code has no label.

_ACTION_LABELS: dict[str, Any] = {}


def audit_action_labels_register(labels: dict[str, Any]) -> None:
    """Name actions with (lazily translated) labels; registering an action again replaces its label."""
    _ACTION_LABELS.update(labels)


def audit_action_label(action: str) -> str:
    """The action in the reader's language; an action nobody registered reads as its code."""
    label = _ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def audit_action_choices() -> list[tuple[str, str]]:
    """(action, label) of every registered action, by label in the reader's language."""
    return sorted(((action, str(label)) for action, label in _ACTION_LABELS.items()), key=lambda pair: pair[1])


audit_action_labels_register({
    AuditAction.LOGIN: _("signed in"),
    AuditAction.LOGIN_FAILED: _("sign-in failed"),
    AuditAction.LOGOUT: _("signed out"),
    AuditAction.LOCKED_OUT: _("account locked after failed sign-ins"),
    AuditAction.SESSION_EXPIRED: _("session expired"),
    AuditAction.ACCESS_DENIED: _("access denied"),
    AuditAction.PII_REVEAL: _("personal data revealed"),
    AuditAction.EXPORT: _("data exported"),
    "calendar.day_saved": _("working-day calendar: day saved"),
    "calendar.day_deleted": _("working-day calendar: day deleted"),
    "calendar.import": _("working-day calendar imported"),
})


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: ``ok``, or the first row that breaks it and why.

    ``pending_rows`` were committed but not sealed yet: not part of the chain, not an error.
    """

    rows_checked: int
    broken_row_id: int | None = None
    previous_row_id: int | None = None
    problem: str = ""
    pending_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.broken_row_id is None


def audit_record(*, actor: Any | None, action: str, target: models.Model | None = None,
                 detail: dict | None = None) -> AuditEvent:
    """Append one audit event; IP address and request id come from ``core.context``.

    ``actor`` is a user (signed in or ``AnonymousUser``), None for the system itself, or any
    object with an ``audit_label`` attribute (an API key: "api-key:<name>"). ``detail`` holds
    ids and metadata, never PII.

    The row is inserted unsealed and takes no lock; it is chained by ``audit_seal`` once the
    caller's transaction commits (and vanishes with it on rollback).
    """
    actor_id, actor_label = _actor_columns(actor)
    target_type, target_id = _target_columns(target)
    request_context = context.current()
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor_id=actor_id,
        actor_label=actor_label,
        action=action,
        target_type=target_type,
        target_id=target_id,
        detail=_as_stored_json(detail or {}),
        ip_address=_valid_ip_or_none(request_context.ip_address),
        request_id=request_context.request_id,
    )
    event.save(force_insert=True)
    _seal_after_commit()
    return event


def audit_seal(*, limit: int | None = None) -> int:
    """Chain the committed unsealed rows in id order; return how many were sealed.

    One sealer at a time: a caller that finds another sealer at work returns 0 at once (the
    other one, the next audited commit or beat's ``core.audit_seal_task`` seals what it left).
    Each batch is its own short transaction, so the lock is never held across business work.
    """
    sealed = 0
    while limit is None or sealed < limit:
        batch = SEAL_BATCH_SIZE if limit is None else min(SEAL_BATCH_SIZE, limit - sealed)
        count = _seal_batch(batch)
        if count is None:  # another sealer holds the lock
            break
        sealed += count
        if count < batch:
            break
    return sealed


def _seal_batch(batch_size: int) -> int | None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [AUDIT_CHAIN_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return None
        # A seal lost in a crash leaves its rows pending, and the next seal chains them again:
        # the seal need not wait for its WAL flush (the audited rows themselves did).
        cursor.execute("SET LOCAL synchronous_commit = off")
        pending = list(AuditEvent.objects.filter(chain_seq__isnull=True).order_by("id")[:batch_size])
        if not pending:
            return 0
        head = (AuditEvent.objects.filter(chain_seq__isnull=False).order_by("-chain_seq")
                .values_list("chain_seq", "hash").first())
        seq, prev_hash = head if head else (0, GENESIS_HASH)
        rows = []
        for event in pending:
            seq += 1
            event.prev_hash = prev_hash
            event.hash = prev_hash = _event_hash(event)
            rows.extend([event.pk, seq, event.prev_hash, event.hash])
        values = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(pending))
        cursor.execute(
            f"UPDATE core_auditevent AS e SET chain_seq = v.seq, prev_hash = v.prev_hash, hash = v.hash "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, seq, prev_hash, hash) WHERE e.id = v.id AND e.chain_seq IS NULL",
            rows,
        )
        return len(pending)


def _seal_after_commit() -> None:
    """Queue one seal for the end of the current transaction (right away in autocommit)."""
    if any(callback is _seal_quietly for _savepoints, callback, _robust in connection.run_on_commit):
        return
    transaction.on_commit(_seal_quietly)


def _seal_quietly() -> None:
    # Sealing is bookkeeping after the business commit: its failure must not fail the request;
    # the row stays pending and beat's audit_seal_task seals it.
    try:
        audit_seal()
    except Exception:
        logger.exception("audit sealing failed; the rows stay pending until the next seal")


def audit_chain_verify() -> ChainReport:
    """Recompute the sealed chain in chain order and return the first row that breaks it, if any."""
    rows_checked = 0
    previous: AuditEvent | None = None
    sealed = AuditEvent.objects.filter(chain_seq__isnull=False).order_by("chain_seq")
    for event in sealed.iterator(chunk_size=VERIFY_CHUNK_SIZE):
        if previous is None and event.prev_hash != GENESIS_HASH:
            return ChainReport(
                rows_checked=rows_checked, broken_row_id=event.pk,
                problem=f"row {event.pk} is the first row but does not start the chain: "
                        "the rows before it were deleted or the chain was altered",
            )
        if previous is not None and event.prev_hash != previous.hash:
            return ChainReport(
                rows_checked=rows_checked, broken_row_id=event.pk, previous_row_id=previous.pk,
                problem=f"row {event.pk} does not follow row {previous.pk}: "
                        "a row between them was deleted or the chain was altered",
            )
        if event.hash != _event_hash(event):
            return ChainReport(
                rows_checked=rows_checked, broken_row_id=event.pk,
                previous_row_id=previous.pk if previous else None,
                problem=f"row {event.pk} was edited: its hash does not match its contents",
            )
        rows_checked += 1
        previous = event
    pending = AuditEvent.objects.filter(chain_seq__isnull=True).count()
    return ChainReport(rows_checked=rows_checked, pending_rows=pending)


def _actor_columns(actor: Any | None) -> tuple[int | None, str]:
    if actor is None:
        return None, "system"
    audit_label = getattr(actor, "audit_label", None)
    if audit_label:
        return None, str(audit_label)
    if not actor.is_authenticated:
        return None, "anonymous"
    return actor.pk, actor.get_username()


def _target_columns(target: models.Model | None) -> tuple[str, str]:
    if target is None:
        return "", ""
    if target.pk is None:
        raise ValueError("An audit target must be saved before it is audited.")
    return target._meta.label_lower, str(target.pk)


def _as_stored_json(detail: dict) -> dict:
    """Return ``detail`` exactly as PostgreSQL's jsonb will give it back.

    jsonb rewrites some values (``1e20`` comes back as the integer 100000000000000000000), and
    the hash must be computed over what a later verify will read.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json.dumps(detail, cls=DjangoJSONEncoder)])
        return json.loads(cursor.fetchone()[0])


def _valid_ip_or_none(raw: str | None) -> str | None:
    """A proxy may forward anything as a client address; store only a real one."""
    try:
        return str(ipaddress.ip_address(raw)) if raw else None
    except ValueError:
        return None


def _event_hash(event: AuditEvent) -> str:
    """sha256 over the previous hash and a canonical JSON of the row's own fields.

    Each value is put in one spelling first (UTC time, compressed IP) so the hash does not
    depend on how the database formats what it returns.
    """
    payload = {
        "occurred_at": _utc(event.occurred_at).isoformat(),
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "detail": event.detail,
        "ip_address": _valid_ip_or_none(event.ip_address),
        "request_id": event.request_id,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((event.prev_hash + canonical).encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def api_read_tally_add(*, principal: Any, endpoint: str, rows: int) -> None:
    """Count ``rows`` masked rows read by an API key on ``endpoint`` in the current hour (one upsert).

    ``principal`` is an API client (``principal_id`` "api-key:<id>" and ``audit_label``); staff
    sessions are audited otherwise and ignored here.
    """
    principal_id = getattr(principal, "principal_id", "")
    if not str(principal_id).startswith("api-key:"):
        return
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    table = ApiReadTally._meta.db_table
    with connection.cursor() as cursor:
        sql = (  # the table name is ours
            f"INSERT INTO {table} (principal, principal_label, endpoint, hour, requests, rows) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, 1, %s) ON CONFLICT (principal, endpoint, hour) "
            f"DO UPDATE SET requests = {table}.requests + 1, rows = {table}.rows + EXCLUDED.rows, "
            "principal_label = EXCLUDED.principal_label"
        )
        cursor.execute(
            sql,
            [principal_id, getattr(principal, "audit_label", str(principal))[:200], endpoint[:200], hour, rows],
        )
