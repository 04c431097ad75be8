"""Reads for complaints, scoped to the viewer (STYLE.md §2).

Complaint desk and branch managers see their branch's complaints; compliance auditors and
administrators see every branch; an API key sees its branch, or every branch when unrestricted.
Anyone else sees none. A complaint outside the scope is "not found", never "forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import scope
from accounts.models import Branch
from complaints.models import (
    RESOLVED_ON_TIME,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintEvent,
    ComplaintSeverity,
    ComplaintUserObjectPermission,
    RootCause,
)
from core import notifications
from core.crypto import blind_index
from customers.models import Customer, CustomerStatus, Product

# The sort whitelist: input picks a key, never a column.
QUEUE_ORDERS = {
    "due": (F("resolution_due_at").asc(), F("id").asc()),
    "-received": (F("received_at").desc(), F("id").desc()),
    "received": (F("received_at").asc(), F("id").asc()),
    "severity": (F("severity_rank").desc(), F("resolution_due_at").asc(), F("id").asc()),
}
QUEUE_DEFAULT_ORDER = "due"
STATUS_OPEN = "open"  # the queue's default: every status that still needs work
STATUS_SURVEY_PENDING = "survey_pending"  # resolved or closed, no customer linked: the survey waits
# The dates a filter accepts (forms and API bound their date fields to these); the period
# helpers clamp to them too, so no date arithmetic can leave Python's date range.
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2100, 12, 31)
NAME_SEARCH_CUSTOMER_IDS_MAX = 500


def _scope(user: Any, *, shared: bool = False) -> Q | None:
    """The filter on complaint columns the viewer is limited to, Q() for all, None for none.

    ``shared`` adds the complaints shared with a staff user (accounts.RecordShare).
    """
    return scope.principal_branch_q(user, shared_via=ComplaintUserObjectPermission if shared else None)


def _complaints_with_list_relations() -> QuerySet[Complaint]:
    return Complaint.objects.select_related("branch", "category", "category__parent", "customer", "sla_policy",
                                            "product")


def complaint_list_visible_to(*, user: Any, shared: bool = False) -> QuerySet[Complaint]:
    """Return the complaints the user may see, with what a list shows.

    ``shared`` adds the complaints shared with the user: only the queue and the detail page pass
    it; actions, reports and the API keep to the user's own branch scope.
    """
    return scope.scoped(_complaints_with_list_relations(), _scope(user, shared=shared))


def complaint_get_visible_to(*, user: Any, reference: str, shared: bool = False) -> Complaint:
    """One complaint the user may see; Complaint.DoesNotExist otherwise (a 404).

    With ``shared``, a complaint shared with the user is found too, and ``complaint.via_share``
    is True when the user sees it only through a share (read only).
    """
    if not shared:
        return complaint_list_visible_to(user=user).get(reference=reference)
    own = _scope(user)
    complaints = scope.scoped(_complaints_with_list_relations(),
                              scope.with_shared(own, user, shared_via=ComplaintUserObjectPermission))
    return complaints.annotate(via_share=scope.only_shared_expression(own)).get(reference=reference)


@dataclass(frozen=True)
class QueueFilters:
    status: str = STATUS_OPEN
    category_id: int | None = None
    severity: str | None = None
    branch_id: int | None = None
    channel: str | None = None
    product_id: int | None = None
    breached: bool | None = None
    customer_id: int | None = None
    received_from: date | None = None
    received_to: date | None = None
    order: str = QUEUE_DEFAULT_ORDER


def complaint_queue_visible_to(*, user: Any, filters: QueueFilters) -> QuerySet[Complaint]:
    """The desk queue: filtered, sorted by a whitelisted key, ties broken on id (stable pages).

    ``category_id`` matches the category and its sub-categories; dates are local and inclusive.
    ``customer_id`` narrows the viewer's complaints, so a customer outside the scope shows none.
    """
    # No share in force: keep the plain branch scope (an ordered index read per page).
    shared = scope.principal_has_shares(user, shared_via=ComplaintUserObjectPermission)
    complaints = complaint_list_visible_to(user=user, shared=shared)
    if filters.status == STATUS_OPEN:
        complaints = complaints.open()
    elif filters.status == STATUS_SURVEY_PENDING:
        complaints = complaints.survey_pending()
    elif filters.status:
        complaints = complaints.filter(status=filters.status)
    if filters.category_id:
        complaints = complaints.filter(Q(category_id=filters.category_id) | Q(category__parent_id=filters.category_id))
    if filters.severity:
        complaints = complaints.filter(severity=filters.severity)
    if filters.branch_id:
        complaints = complaints.filter(branch_id=filters.branch_id)
    if filters.channel:
        complaints = complaints.filter(channel=filters.channel)
    if filters.product_id:
        complaints = complaints.filter(product_id=filters.product_id)
    if filters.customer_id:
        complaints = complaints.filter(customer_id=filters.customer_id)
    if filters.breached is True:
        complaints = complaints.breached()
    elif filters.breached is False:
        complaints = complaints.filter(first_response_breached_at__isnull=True, resolution_breached_at__isnull=True)
    complaints = complaints_received_between(complaints, start=filters.received_from, end=filters.received_to)
    order = QUEUE_ORDERS.get(filters.order) or QUEUE_ORDERS[QUEUE_DEFAULT_ORDER]
    if filters.order == "severity":
        complaints = complaints.annotate(severity_rank=Case(
            *[When(severity=severity, then=Value(rank)) for rank, severity in enumerate(ComplaintSeverity.values)],
            output_field=IntegerField(),
        ))
    return complaints.order_by(*order)


def complaint_search_visible_to(*, user: Any, reference: str = "", name: str = "",
                                phone: str = "") -> QuerySet[Complaint]:
    """Complaints the user may see, of any status, matching every term given; newest first.

    ``reference`` matches exactly or as a prefix ("TS20261128" finds that day's). ``name``
    matches the walk-in's contact name or the linked customer's name (contains). ``phone``
    matches the complainant's phone or the linked customer's exactly, through the blind indexes
    (core.crypto normalises "+86 138-1234-5678" to 13812345678 as the customer search does);
    no row is ever decrypted to compare. No term: no complaint.
    """
    complaints = complaint_list_visible_to(user=user)
    reference, name, phone = (reference or "").strip().upper(), (name or "").strip(), (phone or "").strip()
    if not (reference or name or phone):
        return complaints.none()
    if reference:
        complaints = complaints.filter(reference__startswith=reference)
    if name:
        # Customers by name first (their trigram index), so the OR is two index scans; a name as
        # common as one surname matches too many customers for a list and is joined instead.
        customer_ids = list(Customer.objects.filter(name__icontains=name)
                            .values_list("pk", flat=True)[:NAME_SEARCH_CUSTOMER_IDS_MAX + 1])
        linked = (Q(customer_id__in=customer_ids) if len(customer_ids) <= NAME_SEARCH_CUSTOMER_IDS_MAX
                  else Q(customer__name__icontains=name))
        complaints = complaints.filter(Q(contact_name__icontains=name) | linked)
    if phone:
        digest = blind_index(kind="phone", value=phone)
        if not digest:
            return complaints.none()
        # The linked customers first (a handful of ids), so the OR stays two index scans.
        customer_ids = list(Customer.objects.filter(phone_bidx=digest).values_list("pk", flat=True)[:100])
        complaints = complaints.filter(Q(contact_phone_bidx=digest) | Q(customer_id__in=customer_ids))
    # The list shows names only: no phone or ID number is decrypted for it.
    return complaints.defer(*_SEARCH_DEFERRED).order_by("-received_at", "-id")


_SEARCH_DEFERRED = ("contact_phone", "customer__id_number", "customer__phone", "customer__email", "customer__address")


def _clamped(day: date) -> date:
    return min(max(day, DATE_MIN), DATE_MAX)


def _day_start(day: date) -> datetime:
    """Local midnight starting ``day`` (clamped to DATE_MIN..DATE_MAX)."""
    return timezone.make_aware(datetime.combine(_clamped(day), time.min))


def _day_end(day: date) -> datetime:
    """Local midnight ending ``day``, exclusive (clamped, so 9999-12-31 does not overflow)."""
    return timezone.make_aware(datetime.combine(_clamped(day) + timedelta(days=1), time.min))


def complaints_received_between(complaints: QuerySet[Complaint], *, start: date | None,
                                end: date | None) -> QuerySet[Complaint]:
    """Narrow to complaints received on local dates start..end, inclusive; either end may be open."""
    if start:
        complaints = complaints.filter(received_at__gte=_day_start(start))
    if end:
        complaints = complaints.filter(received_at__lt=_day_end(end))
    return complaints


def hotspot_period(*, start: date, end: date, max_days: int) -> tuple[date, date]:
    """The period to report: ordered, within DATE_MIN..DATE_MAX, at most ``max_days`` long."""
    start, end = sorted((_clamped(start), _clamped(end)))
    if (end - start).days >= max_days:
        start = end - timedelta(days=max_days - 1)
    return start, end


def complaint_events_for(*, complaint: Complaint, customer_visible_only: bool = False) -> QuerySet[ComplaintEvent]:
    events = ComplaintEvent.objects.filter(complaint=complaint).select_related("actor")
    if customer_visible_only:
        events = events.filter(customer_visible=True)
    return events.order_by("occurred_at", "id")


def complaint_list_for_customer(*, user: Any, customer: Customer, limit: int = 10) -> list[Complaint]:
    """The customer's complaints the user may see, newest first (the customer 360 panel)."""
    return list(complaint_list_visible_to(user=user).filter(customer=customer).order_by("-received_at", "-id")[:limit])


def complaint_for_public(*, reference: str) -> Complaint | None:
    """The complaint behind a reference typed by a customer (no scope: the phone check follows)."""
    reference = (reference or "").strip().upper()
    if not reference or len(reference) > 24:
        return None
    return Complaint.objects.select_related("customer", "sla_policy").filter(reference=reference).first()


def notification_unread_count(*, user: Any) -> int:
    """The user's unread complaint messages (escalations and breaches) in the shared inbox."""
    return notifications.notification_unread_count(user=user, kind_prefix="complaints.")


def categories_top_level() -> QuerySet[ComplaintCategory]:
    return ComplaintCategory.objects.filter(parent__isnull=True, is_active=True).order_by("sort_order", "code")


def categories_for_choice() -> list[ComplaintCategory]:
    """Active categories, each top level followed by its sub-categories (for a select)."""
    categories = list(ComplaintCategory.objects.filter(is_active=True).select_related("parent")
                      .order_by("sort_order", "code"))
    children: dict[int, list[ComplaintCategory]] = {}
    for category in categories:
        if category.parent_id:
            children.setdefault(category.parent_id, []).append(category)
    ordered: list[ComplaintCategory] = []
    for category in categories:
        if category.parent_id is None:
            ordered.append(category)
            ordered.extend(children.get(category.pk, []))
    return ordered


# --- Hot spots ------------------------------------------------------------------------------------

HOTSPOT_DIMENSIONS = ("category", "branch", "product", "channel")


@dataclass
class HotspotRow:
    key: Any
    label: str
    count: int
    previous_count: int
    per_thousand_customers: float | None = None

    @property
    def change_pct(self) -> float | None:
        if not self.previous_count:
            return None
        return round((self.count - self.previous_count) * 100 / self.previous_count, 1)


def complaint_hotspots(*, user: Any, dimension: str, start: date, end: date, now: datetime | None = None) -> dict:
    """Complaints received in [start, end] (local dates) grouped by one dimension, against the previous period.

    Also: top root causes, SLA compliance (first response / resolution within due) for the
    complaints of the period, and complaints per 1,000 active customers in the viewer's scope.
    Every figure is one GROUP BY or aggregate query. Dates are clamped to DATE_MIN..DATE_MAX.
    First-response compliance counts the complaints answered or already overdue (a clock still
    running within due is neither met nor missed yet); resolution compliance counts the
    resolved ones against the original deadline too (a reopening does not hide a miss).
    """
    if dimension not in HOTSPOT_DIMENSIONS:
        dimension = "category"
    now = now or timezone.now()
    start, end = sorted((_clamped(start), _clamped(end)))
    days = (end - start).days + 1
    previous_end = start - timedelta(days=1) if start > DATE_MIN else start
    previous_start = _clamped(previous_end - timedelta(days=days - 1)) if start > DATE_MIN else start
    scoped = complaint_list_visible_to(user=user).select_related(None)
    current = complaints_received_between(scoped, start=start, end=end)
    previous = (complaints_received_between(scoped, start=previous_start, end=previous_end) if start > DATE_MIN
                else scoped.none())
    group_field = {"category": Coalesce("category__parent_id", "category_id"), "branch": F("branch_id"),
                   "product": F("product_id"), "channel": F("channel")}[dimension]
    now_counts = dict(current.order_by().annotate(k=group_field).values_list("k").annotate(n=Count("id"))
                      .values_list("k", "n"))
    before_counts = dict(previous.order_by().annotate(k=group_field).values_list("k").annotate(n=Count("id"))
                         .values_list("k", "n"))
    keys = set(now_counts) | set(before_counts)
    labels = _dimension_labels(dimension, keys)
    customers_by_branch: dict[int, int] = {}
    if dimension == "branch":
        customers_by_branch = dict(
            Customer.objects.filter(branch_id__in=[k for k in keys if k], status=CustomerStatus.ACTIVE).order_by()
            .values_list("branch_id").annotate(n=Count("id")).values_list("branch_id", "n"))
    rows = []
    for key in keys:
        customers = customers_by_branch.get(key)
        rows.append(HotspotRow(
            key=key, label=labels.get(key, "—"), count=now_counts.get(key, 0), previous_count=before_counts.get(key, 0),
            per_thousand_customers=(round(now_counts.get(key, 0) * 1000 / customers, 2) if customers else None),
        ))
    rows.sort(key=lambda row: (-row.count, -row.previous_count, row.label))

    totals = current.order_by().aggregate(
        total=Count("id"),
        first_response_settled=Count("id", filter=Q(first_response_at__isnull=False)
                                     | Q(first_response_due_at__lte=now)),
        responded_on_time=Count("id", filter=Q(first_response_at__lt=F("first_response_due_at"))),
        resolved=Count("id", filter=Q(resolved_at__isnull=False)),
        resolved_on_time=Count("id", filter=RESOLVED_ON_TIME),
        breached=Count("id", filter=Q(first_response_breached_at__isnull=False)
                       | Q(resolution_breached_at__isnull=False)),
    )
    previous_total = previous.order_by().count()
    root_causes = [
        (RootCause(code).label, code, n) for code, n in
        current.exclude(root_cause="").order_by().values_list("root_cause").annotate(n=Count("id"))
        .order_by("-n", "root_cause").values_list("root_cause", "n")[:5]
    ]
    customer_scope = _customer_scope_for_rate(user)
    active_customers = Customer.objects.filter(customer_scope, status=CustomerStatus.ACTIVE).count() \
        if customer_scope is not None else 0
    return {
        "dimension": dimension,
        "start": start, "end": end, "previous_start": previous_start, "previous_end": previous_end,
        "rows": rows,
        "total": totals["total"], "previous_total": previous_total,
        "change_pct": (round((totals["total"] - previous_total) * 100 / previous_total, 1) if previous_total else None),
        "first_response_compliance_pct": _pct(totals["responded_on_time"], totals["first_response_settled"]),
        "resolution_compliance_pct": _pct(totals["resolved_on_time"], totals["resolved"]),
        "resolved": totals["resolved"], "breached": totals["breached"],
        "root_causes": root_causes,
        "active_customers": active_customers,
        "per_thousand_customers": (round(totals["total"] * 1000 / active_customers, 2) if active_customers else None),
    }


def _pct(part: int, whole: int) -> float | None:
    return round(part * 100 / whole, 1) if whole else None


def _customer_scope_for_rate(user: Any) -> Q | None:
    return _scope(user)  # complaint scope is by branch_id, the same column on customers


def _dimension_labels(dimension: str, keys: set) -> dict:
    keys = {k for k in keys if k is not None}
    if dimension == "category":
        return {c.pk: c.label for c in ComplaintCategory.objects.filter(pk__in=keys)}
    if dimension == "branch":
        return {b.pk: b.name for b in Branch.objects.filter(pk__in=keys)}
    if dimension == "product":
        labels = {p.pk: str(p) for p in Product.objects.filter(pk__in=keys)}
        return labels
    return {value: str(label) for value, label in ComplaintChannel.choices}

