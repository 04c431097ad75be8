"""Writes for complaints (MANUAL 3.3): logging, the status machine, the breach scan, closing the loop.

Every transition is one service that locks the row (``select_for_update``), checks the version
the caller saw (when given) and the status machine, and writes a ``ComplaintEvent`` in the same
transaction, so two desk staff acting at once get exactly one winner and a clear conflict.
``now`` is a parameter everywhere the clock matters, so tests control it.
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts import permissions, scope
from accounts import services as account_services
from accounts.models import ApiScope, Branch, RecordShare, Role, User
from complaints import selectors
from complaints.models import (
    TRANSITIONS,
    Complaint,
    ComplaintAction,
    ComplaintAttachment,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintSeverity,
    ComplaintStatus,
    RootCause,
    SlaPolicy,
    SlaRule,
)
from core import crypto, identifiers, notifications
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.pagination import UncountedPage
from core.uploads import FileKind, upload_check, upload_rename
from customers.models import Customer, Product
from service import services as service_services

logger = logging.getLogger(__name__)

REFERENCE_SEQUENCE = "complaints_reference_seq"
REFERENCE_PREFIX = "TS"
AUDIT_LINK_CUSTOMER = "complaints.link_customer"
AUDIT_SLA_POLICY_CREATE = "complaints.sla_policy_version_create"
# Serialises version numbering of SLA policies (an advisory lock, not a row: the next version has no row yet).
SLA_POLICY_VERSION_LOCK = "complaints_sla_policy_version"
# A received_at slightly ahead of the server clock is a phone's clock skew, not a typing error.
RECEIVED_AT_FUTURE_TOLERANCE = timedelta(minutes=5)
ATTACHMENT_MAX_BYTES = 5 * 1024 * 1024
ATTACHMENTS_MAX_PER_COMPLAINT = 20
AUDIT_ATTACHMENT_ADD = "complaints.attachment_add"
AUDIT_SEARCH = "complaints.search"
# A complainant's phone (mobile or landline with area code) has at least this many digits.
CONTACT_PHONE_MIN_DIGITS = 7
_DIGITS = re.compile(r"\d")
SURVEY_PENDING_NOTE = gettext_noop("complainant not identified: link the customer to send the survey")

# Which actions count as the first response to the complainant (escalating does not).
FIRST_RESPONSE_ACTIONS = {ComplaintAction.ACKNOWLEDGE, ComplaintAction.INVESTIGATE, ComplaintAction.RESOLVE}
# Timeline events the complainant sees on the public progress page.
CUSTOMER_VISIBLE_KINDS = {
    ComplaintEventKind.CREATED, ComplaintEventKind.ACKNOWLEDGED, ComplaintEventKind.INVESTIGATING,
    ComplaintEventKind.RESOLVED, ComplaintEventKind.CLOSED, ComplaintEventKind.REOPENED,
}
EVENT_KIND_BY_ACTION = {
    ComplaintAction.ACKNOWLEDGE: ComplaintEventKind.ACKNOWLEDGED,
    ComplaintAction.INVESTIGATE: ComplaintEventKind.INVESTIGATING,
    ComplaintAction.ESCALATE: ComplaintEventKind.ESCALATED,
    ComplaintAction.RESOLVE: ComplaintEventKind.RESOLVED,
    ComplaintAction.CLOSE: ComplaintEventKind.CLOSED,
    ComplaintAction.REOPEN: ComplaintEventKind.REOPENED,
}


# --- Actors and permissions ------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerActor:
    """The complainant acting on the public pages (no login)."""

    audit_label: str = "customer"
    is_authenticated: bool = False


CUSTOMER = CustomerActor()


def _actor_columns(by: Any | None) -> tuple[User | None, str]:
    if by is None:
        return None, "system"
    if isinstance(by, CustomerActor) or not scope.is_staff_principal(by):
        return None, by.audit_label
    return by, by.get_username()


def _require_handler(by: Any | None) -> None:
    """Staff who handle complaints, an API key with complaints:write, or the system itself."""
    if by is None:
        return
    if scope.api_key_has_scope(by, ApiScope.COMPLAINTS_WRITE):
        return
    if scope.is_staff_principal(by) and permissions.can_handle_complaints(by):
        return
    raise ApplicationError(ErrorCode.PERMISSION_DENIED)


def _require_branch_allowed(*, by: Any | None, branch: Branch, customer: Customer | None) -> None:
    """The branch a complaint may be logged for: the customer's own (the caller found the customer
    through its scoped selectors), the caller's own branch, or any branch for head office, the
    system and API keys not limited to a branch."""
    if by is None or isinstance(by, CustomerActor):
        return
    if customer is not None and customer.branch_id == branch.pk:
        return
    own_branch_id = getattr(by, "branch_id", None)
    if own_branch_id == branch.pk:
        return
    if isinstance(by, User) and permissions.sees_all_branches(by):
        return
    if not isinstance(by, User) and own_branch_id is None:
        return
    raise ApplicationError.invalid(_("You may log complaints for your own branch only."), field="branch")


# --- SLA policy ----------------------------------------------------------------------------------


def sla_policy_active(*, at: datetime) -> SlaPolicy:
    """Return the policy version in force at ``at`` (the latest version already effective)."""
    policy = SlaPolicy.objects.filter(effective_from__lte=at).order_by("-version").first()
    if policy is None:
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("No complaint SLA policy is in force."))
    return policy


def sla_policy_effective_from_check(*, effective_from: datetime, now: datetime | None = None) -> None:
    """Refuse a version that would take effect in the past: complaints already received keep their stamp."""
    now = now or timezone.now()
    if effective_from < now:
        raise ApplicationError.invalid(
            _("A new SLA policy version cannot take effect in the past; choose a time from now on."),
            field="effective_from")


@transaction.atomic
def sla_policy_version_create(
    *,
    by: User,
    effective_from: datetime,
    first_response_minutes: int,
    resolution_minutes: int,
    warning_pct: int,
    critical_pct: int,
    reopen_window_days: int,
    now: datetime | None = None,
) -> SlaPolicy:
    """Add the next SLA policy version, effective now or later; audited. Versions are never edited."""
    sla_policy_effective_from_check(effective_from=effective_from, now=now)
    if not 0 < warning_pct < critical_pct < 100:
        raise ApplicationError.invalid(_("The first warning must come before the second, both under 100 percent."),
                                       field="warning_pct")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [SLA_POLICY_VERSION_LOCK])
    version = (SlaPolicy.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    policy = SlaPolicy.objects.create(
        version=version, effective_from=effective_from, first_response_minutes=first_response_minutes,
        resolution_minutes=resolution_minutes, warning_pct=warning_pct, critical_pct=critical_pct,
        reopen_window_days=reopen_window_days, created_by=by,
    )
    audit_record(actor=by, action=AUDIT_SLA_POLICY_CREATE, target=policy, detail={
        "version": version, "effective_from": effective_from.isoformat(),
        "first_response_minutes": first_response_minutes, "resolution_minutes": resolution_minutes,
        "warning_pct": warning_pct, "critical_pct": critical_pct, "reopen_window_days": reopen_window_days,
    })
    return policy


def sla_rule_for(*, policy: SlaPolicy, category: ComplaintCategory, severity: str) -> SlaRule | None:
    """The most specific rule of ``policy`` for the category (or its parent) and severity.

    Specificity: the category itself beats its parent beats any category; then a named severity
    beats any severity.
    """
    best: tuple[int, SlaRule] | None = None
    for rule in policy.rules.all():
        if rule.category_id is None:
            category_score = 0
        elif rule.category_id == category.pk:
            category_score = 2
        elif rule.category_id == category.parent_id:
            category_score = 1
        else:
            continue
        if rule.severity and rule.severity != severity:
            continue
        score = category_score * 2 + (1 if rule.severity else 0)
        if best is None or score > best[0]:
            best = (score, rule)
    return best[1] if best else None


def sla_deadlines(*, policy: SlaPolicy, rule: SlaRule | None, started_at: datetime) -> tuple[datetime, datetime]:
    """(first response due, resolution due) for a clock started at ``started_at``."""
    source = rule or policy
    return (started_at + timedelta(minutes=source.first_response_minutes),
            started_at + timedelta(minutes=source.resolution_minutes))


# --- Logging a complaint ---------------------------------------------------------------------------


def _next_reference(*, received_at: datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(%s)", [REFERENCE_SEQUENCE])
        number = cursor.fetchone()[0]
    return f"{REFERENCE_PREFIX}{timezone.localdate(received_at):%Y%m%d}-{number:06d}"


@transaction.atomic
def complaint_create(
    *,
    by: Any | None,
    branch: Branch,
    channel: str,
    category: ComplaintCategory,
    severity: str,
    description: str,
    customer: Customer | None = None,
    contact_name: str = "",
    contact_phone: str = "",
    product: Product | None = None,
    received_at: datetime | None = None,
    attachment: UploadedFile | None = None,
    now: datetime | None = None,
) -> Complaint:
    """Log a complaint for a customer, or for an unidentified walk-in (contact name and phone).

    The caller fetched ``customer`` through the customer selectors for ``by``. Deadlines come
    from the SLA policy in force at ``received_at`` (default: now), stamped on the complaint.
    """
    if not isinstance(by, CustomerActor):
        _require_handler(by)
    _require_branch_allowed(by=by, branch=branch, customer=customer)
    now = now or timezone.now()
    received_at = received_at or now
    if timezone.is_naive(received_at):
        received_at = timezone.make_aware(received_at)
    if received_at > now + RECEIVED_AT_FUTURE_TOLERANCE:
        raise ApplicationError.invalid(_("A complaint cannot be received in the future."), field="received_at")
    if channel not in ComplaintChannel.values:
        raise ApplicationError.invalid(_("Choose a channel from the list."), field="channel")
    if severity not in ComplaintSeverity.values:
        raise ApplicationError.invalid(_("Choose a severity from the list."), field="severity")
    if not category.is_active:
        raise ApplicationError.invalid(_("This category is no longer in use."), field="category")
    description = (description or "").strip()
    if not description:
        raise ApplicationError.invalid(_("Describe the complaint."), field="description")
    if len(description) > Complaint._meta.get_field("description").max_length:
        raise ApplicationError.invalid(_("The description is too long."), field="description")
    contact_name = (contact_name or "").strip()
    contact_phone = identifiers.phone_normalise(contact_phone)
    if customer is None:
        if not contact_name:
            raise ApplicationError.invalid(
                _("Find the customer, or enter the complainant's name for a walk-in."), field="contact_name")
        if len(contact_phone) < CONTACT_PHONE_MIN_DIGITS:
            raise ApplicationError.invalid(_("Enter the complainant's phone number."), field="contact_phone")
    attachment_kind = _check_attachment(attachment) if attachment is not None else None

    policy = sla_policy_active(at=received_at)
    rule = sla_rule_for(policy=policy, category=category, severity=severity)
    first_response_due_at, resolution_due_at = sla_deadlines(policy=policy, rule=rule, started_at=received_at)
    actor, actor_label = _actor_columns(by)
    complaint = Complaint.objects.create(
        reference=_next_reference(received_at=received_at),
        customer=customer,
        contact_name=contact_name[:100],
        contact_phone=contact_phone or None,
        branch=branch,
        channel=channel,
        category=category,
        severity=severity,
        product=product,
        description=description,
        received_at=received_at,
        resolution_clock_started_at=received_at,
        sla_policy=policy,
        sla_rule=rule,
        first_response_due_at=first_response_due_at,
        resolution_due_at=resolution_due_at,
        original_resolution_due_at=resolution_due_at,
        created_by=actor,
        created_by_label=actor_label,
    )
    ComplaintEvent.objects.create(
        complaint=complaint, kind=ComplaintEventKind.CREATED, to_status=ComplaintStatus.RECEIVED,
        occurred_at=now, actor=actor, actor_label=actor_label, customer_visible=True,
    )
    if attachment is not None:
        _attachment_store(complaint=complaint, upload=attachment, kind=attachment_kind, actor=actor, now=now)
    return complaint


def complaint_search(*, user: User, reference: str = "", name: str = "", phone: str = "", page: int = 1,
                     per_page: int = 50) -> UncountedPage:
    """One page of the user's complaints matching the terms (selectors.complaint_search_visible_to).

    A search by name or phone asks "did this person complain?", so it leaves an audit row naming
    which kinds of term were given and how many complaints the page shows, never the terms.
    """
    result = UncountedPage(selectors.complaint_search_visible_to(user=user, reference=reference, name=name,
                                                                 phone=phone),
                           number=page, per_page=per_page)
    if name.strip() or phone.strip():
        terms = [kind for kind, value in (("reference", reference), ("name", name), ("phone", phone)) if value.strip()]
        audit_record(actor=user, action=AUDIT_SEARCH, detail={"terms": terms, "page": page,
                                                              "matches": len(result.object_list)})
    return result


def complaint_public_submit(
    *, branch: Branch, category: ComplaintCategory, contact_name: str, contact_phone: str, description: str,
    id_number: str = "", now: datetime | None = None,
) -> Complaint:
    """Log a complaint sent by the customer through the public online form (unidentified until linked).

    An ID number, if given, is kept only as its blind index, to suggest the customer (complaints.matching).
    """
    complaint = complaint_create(
        by=CUSTOMER, branch=branch, channel=ComplaintChannel.ONLINE, category=category,
        severity=ComplaintSeverity.MEDIUM, description=description, contact_name=contact_name,
        contact_phone=contact_phone, now=now,
    )
    id_number_bidx = crypto.blind_index(kind="id_number", value=id_number) if id_number else None
    if id_number_bidx:
        complaint.contact_id_number_bidx = id_number_bidx
        complaint.save(update_fields=["contact_id_number_bidx"])
    return complaint


def _check_attachment(upload: UploadedFile) -> FileKind:
    """The content decides (core.uploads): a PDF, JPEG, PNG or Office document, 5 MB at most."""
    return upload_check(upload, max_bytes=ATTACHMENT_MAX_BYTES)


def _attachment_store(*, complaint: Complaint, upload: UploadedFile, kind: FileKind, actor, now: datetime
                      ) -> ComplaintAttachment:
    original_name = upload_rename(upload, kind)
    return ComplaintAttachment.objects.create(
        complaint=complaint, file=upload, original_name=original_name or upload.name,
        content_type=kind.content_type, size_bytes=upload.size, uploaded_at=now, uploaded_by=actor,
    )


@transaction.atomic
def complaint_attachment_add(*, complaint: Complaint, upload: UploadedFile, by: User,
                             now: datetime | None = None) -> ComplaintAttachment:
    """Add a file to a complaint at any stage (the desk, the handler); checked like the first one; audited."""
    _require_handler(by)
    kind = _check_attachment(upload)
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.attachments.count() >= ATTACHMENTS_MAX_PER_COMPLAINT:
        raise ApplicationError.invalid(
            _("A complaint can hold at most %(count)d attachments.") % {"count": ATTACHMENTS_MAX_PER_COMPLAINT},
            field="attachment")
    actor, _label = _actor_columns(by)
    attachment = _attachment_store(complaint=locked, upload=upload, kind=kind, actor=actor, now=now or timezone.now())
    audit_record(actor=by, action=AUDIT_ATTACHMENT_ADD, target=locked,
                 detail={"attachment_id": attachment.pk, "kind": kind.code, "size_bytes": attachment.size_bytes})
    return attachment


@transaction.atomic
def complaint_link_customer(*, complaint: Complaint, customer: Customer, by: User,
                            matched_by: str = "") -> Complaint:
    """Link an unidentified complaint to the customer the desk found; audited (it reveals who complained)."""
    _require_handler(by)
    locked = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if locked.customer_id is not None:
        raise ApplicationError(ErrorCode.CONFLICT, _("This complaint is already linked to a customer."))
    locked.customer = customer
    locked.version += 1
    locked.save(update_fields=["customer", "version"])
    actor, actor_label = _actor_columns(by)
    ComplaintEvent.objects.create(complaint=locked, kind=ComplaintEventKind.CUSTOMER_LINKED,
                                  occurred_at=timezone.now(), actor=actor, actor_label=actor_label)
    if locked.status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED):
        _survey_send(complaint=locked, by=by)
    detail = {"customer_id": customer.pk}
    if matched_by:
        detail["suggested_match"] = matched_by  # confirmed from complaints.matching's suggestion
    audit_record(actor=by, action=AUDIT_LINK_CUSTOMER, target=locked, detail=detail)
    return locked


# --- The status machine -------------------------------------------------------------------------


def _transition(
    *,
    complaint: Complaint,
    action: str,
    by: Any | None,
    note: str = "",
    public_note: str = "",
    expected_version: int | None = None,
    now: datetime | None = None,
    check=None,
    apply=None,
) -> Complaint:
    """Lock the row, check version and status machine, apply, record the event. Must run in a transaction."""
    now = now or timezone.now()
    locked = Complaint.objects.select_for_update(of=("self",)).select_related("sla_policy").get(pk=complaint.pk)
    if expected_version is not None and locked.version != expected_version:
        raise ApplicationError(
            ErrorCode.CONFLICT,
            _("Complaint %(reference)s was changed by someone else (it is now %(status)s); reload and try again.")
            % {"reference": locked.reference, "status": locked.get_status_display()},
        )
    from_statuses, to_status = TRANSITIONS[action]
    if locked.status not in from_statuses:
        raise ApplicationError(
            ErrorCode.INVALID_TRANSITION,
            _("A complaint that is %(status)s cannot be moved with “%(action)s”.")
            % {"status": locked.get_status_display(), "action": ComplaintAction(action).label},
        )
    if check is not None:
        check(locked, now)
    from_status = locked.status
    update_fields = {"status", "version"}
    if action in FIRST_RESPONSE_ACTIONS and locked.first_response_at is None:
        locked.first_response_at = max(now, locked.received_at)
        update_fields.add("first_response_at")
    if apply is not None:
        update_fields |= set(apply(locked, now))
    locked.status = to_status
    locked.version += 1
    locked.save(update_fields=sorted(update_fields))
    actor, actor_label = _actor_columns(by)
    kind = EVENT_KIND_BY_ACTION[action]
    event = ComplaintEvent.objects.create(
        complaint=locked, kind=kind, from_status=from_status, to_status=to_status, occurred_at=now,
        actor=actor, actor_label=actor_label, note=(note or "").strip()[:4000],
        public_note=(public_note or "").strip()[:4000], customer_visible=kind in CUSTOMER_VISIBLE_KINDS,
    )
    if action == ComplaintAction.ESCALATE:
        _notify_branch_managers(complaint=locked, event=event, now=now)
    return locked


@transaction.atomic
def complaint_acknowledge(*, complaint: Complaint, by: Any, note: str = "", expected_version: int | None = None,
                          now: datetime | None = None) -> Complaint:
    """Give the first response: the complaint is acknowledged and the first-response clock stops."""
    _require_handler(by)
    return _transition(complaint=complaint, action=ComplaintAction.ACKNOWLEDGE, by=by, note=note,
                       expected_version=expected_version, now=now)


@transaction.atomic
def complaint_investigate(*, complaint: Complaint, by: Any, note: str = "", expected_version: int | None = None,
                          now: datetime | None = None) -> Complaint:
    _require_handler(by)
    return _transition(complaint=complaint, action=ComplaintAction.INVESTIGATE, by=by, note=note,
                       expected_version=expected_version, now=now)


@transaction.atomic
def complaint_escalate(*, complaint: Complaint, by: Any, note: str = "", expected_version: int | None = None,
                       now: datetime | None = None) -> Complaint:
    """Escalate to the branch manager: an event and a notification for each of the branch's managers."""
    _require_handler(by)

    def apply(locked: Complaint, at: datetime) -> list[str]:
        locked.escalated_at = at
        return ["escalated_at"]

    return _transition(complaint=complaint, action=ComplaintAction.ESCALATE, by=by, note=note,
                       expected_version=expected_version, now=now, apply=apply)


@transaction.atomic
def complaint_resolve(*, complaint: Complaint, by: Any, resolution: str, root_cause: str, note: str = "",
                      expected_version: int | None = None, now: datetime | None = None) -> Complaint:
    """Resolve with the answer given to the customer and the root cause; send the satisfaction survey.

    The resolution is what the complainant reads on the progress page; ``note`` stays with staff.
    Without a linked customer the survey waits: an event says so, and linking sends it.
    """
    _require_handler(by)
    resolution = (resolution or "").strip()
    if not resolution:
        raise ApplicationError.invalid(_("Describe how the complaint was resolved."), field="resolution")
    if len(resolution) > Complaint._meta.get_field("resolution").max_length:
        raise ApplicationError.invalid(_("The resolution is too long."), field="resolution")
    if root_cause not in RootCause.values:
        raise ApplicationError.invalid(_("Choose the root cause from the list."), field="root_cause")

    def apply(locked: Complaint, at: datetime) -> list[str]:
        locked.resolved_at = max(at, locked.received_at)
        fields = ["resolved_at", "resolution", "root_cause"]
        if locked.first_resolved_at is None:
            locked.first_resolved_at = locked.resolved_at
            fields.append("first_resolved_at")
        locked.resolution = resolution
        locked.root_cause = root_cause
        return fields

    resolved = _transition(complaint=complaint, action=ComplaintAction.RESOLVE, by=by, note=note,
                           public_note=resolution, expected_version=expected_version, now=now, apply=apply)
    if resolved.customer_id is not None:
        _survey_send(complaint=resolved, by=by)
    else:
        actor, actor_label = _actor_columns(by)
        ComplaintEvent.objects.create(complaint=resolved, kind=ComplaintEventKind.SURVEY_PENDING,
                                      occurred_at=timezone.now(), actor=actor, actor_label=actor_label,
                                      note=_(SURVEY_PENDING_NOTE))
    return resolved


@transaction.atomic
def complaint_close(*, complaint: Complaint, by: Any, note: str = "", expected_version: int | None = None,
                    now: datetime | None = None) -> Complaint:
    _require_handler(by)

    def apply(locked: Complaint, at: datetime) -> list[str]:
        locked.closed_at = at
        return ["closed_at"]

    return _transition(complaint=complaint, action=ComplaintAction.CLOSE, by=by, note=note,
                       expected_version=expected_version, now=now, apply=apply)


def _reopen_check(locked: Complaint, at: datetime) -> None:
    window = timedelta(days=locked.sla_policy.reopen_window_days)
    if locked.resolved_at is None or at > locked.resolved_at + window:
        raise ApplicationError(
            ErrorCode.INVALID_TRANSITION,
            _("This complaint can no longer be reopened: reopening is possible for %(days)d days after resolution.")
            % {"days": locked.sla_policy.reopen_window_days},
        )


def _reopen_apply(locked: Complaint, at: datetime) -> list[str]:
    """Restart the resolution clock under the complaint's own policy version.

    The original deadline, the first resolution and any breach stay as they were: SLA figures
    count the original miss, and the scan flags the new clock on its own deadline.
    """
    _first_due, resolution_due_at = sla_deadlines(policy=locked.sla_policy, rule=locked.sla_rule, started_at=at)
    fields = ["resolved_at", "closed_at", "resolution_clock_started_at", "resolution_due_at", "reopen_count"]
    if locked.original_resolution_due_at is None:  # a row written before the column existed
        locked.original_resolution_due_at = locked.resolution_due_at
        fields.append("original_resolution_due_at")
    if locked.first_resolved_at is None:
        locked.first_resolved_at = locked.resolved_at
        fields.append("first_resolved_at")
    locked.resolved_at = None
    locked.closed_at = None
    locked.resolution_clock_started_at = at
    locked.resolution_due_at = resolution_due_at
    locked.reopen_count += 1
    return fields


@transaction.atomic
def complaint_reopen(*, complaint: Complaint, by: Any, note: str = "", expected_version: int | None = None,
                     now: datetime | None = None) -> Complaint:
    """Reopen a resolved or closed complaint within the policy's window; the resolution clock restarts.

    The complainant's own reason is shown back to them; a staff note stays internal.
    """
    by_customer = isinstance(by, CustomerActor)
    if not by_customer:
        _require_handler(by)
    return _transition(complaint=complaint, action=ComplaintAction.REOPEN, by=by, note=note,
                       public_note=note if by_customer else "", expected_version=expected_version, now=now,
                       check=_reopen_check, apply=_reopen_apply)


TRANSITION_SERVICES = {
    ComplaintAction.ACKNOWLEDGE: complaint_acknowledge,
    ComplaintAction.INVESTIGATE: complaint_investigate,
    ComplaintAction.ESCALATE: complaint_escalate,
    ComplaintAction.RESOLVE: complaint_resolve,
    ComplaintAction.CLOSE: complaint_close,
    ComplaintAction.REOPEN: complaint_reopen,
}


def complaint_transition(*, complaint: Complaint, action: str, by: Any, note: str = "", resolution: str = "",
                         root_cause: str = "", expected_version: int | None = None,
                         now: datetime | None = None) -> Complaint:
    """Dispatch a requested action to its one service (pages and the API both come through here)."""
    if action not in TRANSITION_SERVICES:
        raise ApplicationError.invalid(_("Unknown action."), field="action")
    kwargs: dict[str, Any] = {"complaint": complaint, "by": by, "note": note, "expected_version": expected_version,
                              "now": now}
    if action == ComplaintAction.RESOLVE:
        kwargs |= {"resolution": resolution, "root_cause": root_cause}
    return TRANSITION_SERVICES[action](**kwargs)


# --- The public side ---------------------------------------------------------------------------------


def complaint_phone_matches(*, complaint: Complaint | None, phone_last4: str) -> bool:
    """Whether ``phone_last4`` are the last four digits of the complainant's phone (constant time)."""
    given = "".join(_DIGITS.findall(phone_last4 or ""))[-4:].rjust(4, "x")
    if complaint is None:
        hmac.compare_digest(given, "0000")  # keep the work (and time) of a miss close to a hit
        return False
    phone = complaint.contact_phone or (complaint.customer.phone if complaint.customer_id else None) or ""
    expected = identifiers.phone_normalise(phone)[-4:]
    return len(expected) == 4 and hmac.compare_digest(given, expected)


@transaction.atomic
def complaint_public_reopen(*, complaint: Complaint, phone_last4: str, reason: str,
                            now: datetime | None = None) -> Complaint:
    """The complainant reopens after an unsatisfying resolution (the survey's thank-you page links here)."""
    if not complaint_phone_matches(complaint=complaint, phone_last4=phone_last4):
        raise ApplicationError.invalid(_("The reference number or phone digits do not match."), field="phone_last4")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError.invalid(_("Tell us what is still wrong."), field="reason")
    return complaint_reopen(complaint=complaint, by=CUSTOMER, note=reason[:2000], now=now)


# --- Closing the loop --------------------------------------------------------------------------------


def _survey_send(*, complaint: Complaint, by: Any | None) -> None:
    """Invite the customer to the satisfaction survey; a failure is recorded, it never undoes the resolve."""
    actor, actor_label = _actor_columns(by)
    try:
        with transaction.atomic():
            service_services.survey_send(
                customer=complaint.customer, trigger="complaint", reference=complaint.reference,
                by=actor,
            )
    except ApplicationError as error:
        logger.warning("Survey for complaint %s not sent: %s", complaint.pk, error.code)
        ComplaintEvent.objects.create(complaint=complaint, kind=ComplaintEventKind.SURVEY_FAILED,
                                      occurred_at=timezone.now(), actor=actor, actor_label=actor_label,
                                      note=error.message)
        return
    ComplaintEvent.objects.create(complaint=complaint, kind=ComplaintEventKind.SURVEY_SENT,
                                  occurred_at=timezone.now(), actor=actor, actor_label=actor_label)


# --- Breach scan and escalation --------------------------------------------------------------------

# Claim the due, unflagged rows in one statement each: a second scan running at the same time
# skips the rows this one locked (SKIP LOCKED) and the UPDATE re-checks the flag, so every
# breach is claimed (and escalated, and notified) exactly once. The CTE reads the status under
# the row lock, so the event records the status the scan moved the complaint from. Rows whose
# clock still runs are auto-escalated. A resolution clock is flagged once per deadline
# (resolution_flagged_due_at): a reopened clock is flagged on its own, and the first breach
# time is kept.
# Which statuses the scan escalates from, and to what: read from the status machine (TRANSITIONS).
_ESCALATE_FROM = "(" + ", ".join(
    f"'{status}'" for status in sorted(TRANSITIONS[ComplaintAction.ESCALATE][0])) + ")"
_ESCALATE_TO = str(TRANSITIONS[ComplaintAction.ESCALATE][1].value)
_CLAIM_SQL = {
    "first_response": f"""
        WITH due AS (
            SELECT id, status FROM complaints_complaint
             WHERE first_response_at IS NULL AND first_response_breached_at IS NULL
               AND first_response_due_at <= %(now)s
             ORDER BY first_response_due_at LIMIT %(limit)s
             FOR UPDATE SKIP LOCKED
        )
        UPDATE complaints_complaint AS c
           SET first_response_breached_at = %(now)s,
               status = CASE WHEN c.status IN {_ESCALATE_FROM} THEN '{_ESCALATE_TO}' ELSE c.status END,
               escalated_at = COALESCE(c.escalated_at, %(now)s),
               version = c.version + 1
          FROM due
         WHERE c.id = due.id AND c.first_response_breached_at IS NULL
        RETURNING c.id, c.first_response_due_at, due.status, c.status
    """,  # noqa: S608 - constant SQL, values are parameters
    "resolution": f"""
        WITH due AS (
            SELECT id, status FROM complaints_complaint
             WHERE resolved_at IS NULL AND resolution_due_at <= %(now)s
               AND resolution_flagged_due_at IS DISTINCT FROM resolution_due_at
             ORDER BY resolution_due_at LIMIT %(limit)s
             FOR UPDATE SKIP LOCKED
        )
        UPDATE complaints_complaint AS c
           SET resolution_breached_at = COALESCE(c.resolution_breached_at, %(now)s),
               resolution_flagged_due_at = c.resolution_due_at,
               status = CASE WHEN c.status IN {_ESCALATE_FROM} THEN '{_ESCALATE_TO}' ELSE c.status END,
               escalated_at = COALESCE(c.escalated_at, %(now)s),
               version = c.version + 1
          FROM due
         WHERE c.id = due.id AND c.resolution_flagged_due_at IS DISTINCT FROM c.resolution_due_at
        RETURNING c.id, c.resolution_due_at, due.status, c.status
    """,  # noqa: S608
}
_BREACH_EVENT_KIND = {
    "first_response": ComplaintEventKind.FIRST_RESPONSE_BREACHED,
    "resolution": ComplaintEventKind.RESOLUTION_BREACHED,
}
SCAN_BATCH_SIZE = 5000


def complaint_breach_scan(*, now: datetime | None = None, batch_size: int = SCAN_BATCH_SIZE) -> dict[str, int]:
    """Flag every due-but-unflagged clock (catching up after downtime), escalate and notify once each.

    Returns {"first_response": n, "resolution": m} for this run. Rows another scan holds are
    skipped (that scan flags them), so two beat processes never flag, escalate or notify twice.
    Each batch commits on its own: a run stopped by its time limit keeps the batches it finished,
    and the next run carries on from there.
    """
    now = now or timezone.now()
    counts: dict[str, int] = {}
    for clock, sql in _CLAIM_SQL.items():
        counts[clock] = 0
        while True:  # after downtime the backlog may exceed one batch
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(sql, {"now": now, "limit": batch_size})
                    claimed = cursor.fetchall()
                if claimed:
                    _record_breaches(clock=clock, claimed=claimed, now=now)
            counts[clock] += len(claimed)
            if len(claimed) < batch_size:
                break
    if any(counts.values()):
        logger.info("Complaint breach scan flagged %s", counts)
    return counts


def _record_breaches(*, clock: str, claimed: list[tuple[int, datetime, str, str]], now: datetime) -> None:
    """Write the breach events and notifications for rows just claimed. Must run in the claim's transaction."""
    complaint_ids = [row[0] for row in claimed]
    complaints = {c.pk: c for c in Complaint.objects.filter(pk__in=complaint_ids).only("id", "branch_id", "reference")}
    events = ComplaintEvent.objects.bulk_create([
        ComplaintEvent(
            complaint_id=complaint_id, kind=_BREACH_EVENT_KIND[clock], occurred_at=now, actor_label="system",
            from_status=from_status, to_status=to_status,
            note=_("Due %(due)s; escalated to the branch manager.") % {
                "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
        )
        for complaint_id, due_at, from_status, to_status in claimed
    ])
    managers_by_branch: dict[int, list[int]] = {}
    branch_ids = {complaint.branch_id for complaint in complaints.values()}
    for user_id, branch_id in User.objects.filter(
        branch_id__in=branch_ids, is_active=True, groups__name=Role.BRANCH_MANAGER.value
    ).values_list("id", "branch_id"):
        managers_by_branch.setdefault(branch_id, []).append(user_id)
    notifications.notification_send_bulk(
        _manager_message(user_id, event, complaints[event.complaint_id].reference)
        for event in events
        for user_id in managers_by_branch.get(complaints[event.complaint_id].branch_id, [])
    )


def _manager_message(user_id: int, event: ComplaintEvent, reference: str) -> tuple:
    """A branch manager's inbox message about one event (an escalation or a breach): one per event and
    manager, rendered in the reader's language (the kinds are registered in complaints.apps)."""
    return (user_id, f"complaints.{event.kind}", {"reference": reference}, complaint_url(reference),
            f"complaint-event:{event.pk}")


def complaint_url(reference: str) -> str:
    return reverse("complaints:complaint-detail", args=[reference])


def _notify_branch_managers(*, complaint: Complaint, event: ComplaintEvent, now: datetime) -> None:
    manager_ids = User.objects.filter(
        branch_id=complaint.branch_id, is_active=True, groups__name=Role.BRANCH_MANAGER.value
    ).values_list("id", flat=True)
    notifications.notification_send_bulk(_manager_message(user_id, event, complaint.reference)
                                         for user_id in manager_ids)


def complaint_notifications_mark_read(*, complaint: Complaint, user: User) -> int:
    """Mark the user's inbox messages about this complaint read (they opened it); return how many."""
    return notifications.notification_mark_read(user=user, url=complaint_url(complaint.reference))


# --- Sharing (issue 10, point 8) ------------------------------------------------------------


@transaction.atomic
def complaint_share(*, complaint: Complaint, shared_with: User, reason: str, ends_on: date, by: User) -> RecordShare:
    """Let ``shared_with`` (e.g. a head-office handler) read this complaint through ``ends_on``.

    The caller has fetched ``complaint`` through selectors.complaint_get_visible_to for ``by``.
    """
    if not permissions.can_share_complaint(by, complaint):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    return account_services.record_share_create(
        record=complaint, shared_with=shared_with, reason=reason, ends_on=ends_on, by=by,
        colleague_may_view=permissions.can_view_complaints,
    )


def complaint_share_revoke(*, complaint: Complaint, share: RecordShare, by: User) -> RecordShare:
    """End one share of this complaint now; ``share`` came from record_shares_active_for(complaint)."""
    return account_services.record_share_revoke(
        share=share, by=by, may_share_record=permissions.can_share_complaint(by, complaint),
    )
