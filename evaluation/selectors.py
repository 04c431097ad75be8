"""Reads of the evaluation app: KPI definitions, snapshot figures, dashboards, drill-downs, reports.

Who may see which scope is answered here (``kpi_scope_allowed``); pages and the API ask it.
Dashboards read only snapshots; drill-downs read the rows behind a figure through the scoped
selectors of the apps that own those rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts import permissions
from accounts import scope as principal_scope
from accounts.models import Branch, Role, User
from complaints.models import RESOLVED_ON_TIME
from complaints.selectors import complaint_list_visible_to
from customers.models import Customer, Holding, Interaction, Transaction
from customers.selectors import customer_list_visible_to
from evaluation import kpis
from evaluation.models import (
    KpiDefinition,
    KpiSnapshot,
    KpiTarget,
    PeriodKind,
    Report,
    ReportStatus,
    ScopeKind,
)
from evaluation.periods import Period, period_containing
from lifecycle.models import RetentionTask
from segmentation.models import SegmentHistory
from service.selectors import survey_response_list_visible_to

CHART_PERIODS = 13


# --- Definitions and single figures (the API other chapters code against) -----------------------


def kpi_definition_list() -> QuerySet[KpiDefinition]:
    """Every KPI in use, in display order, with its target versions prefetched."""
    return KpiDefinition.objects.filter(is_active=True).prefetch_related("targets").order_by("position", "code")


def kpi_definition_get(*, code: str) -> KpiDefinition:
    return KpiDefinition.objects.get(code=code, is_active=True)


def kpi_snapshot_value(*, kpi_code: str, period_kind: str, period_start: date, branch_id: int | None = None,
                       relationship_manager_id: int | None = None) -> Decimal | None:
    """The snapshot figure of a KPI for one period and scope; None when not computed or undefined.

    Both ids None: the bank. ``relationship_manager_id`` given: that RM. Otherwise the branch.
    """
    snapshots = KpiSnapshot.objects.filter(kpi__code=kpi_code, period_kind=period_kind, period_start=period_start,
                                           dimension="")
    if relationship_manager_id is not None:
        snapshots = snapshots.filter(scope=ScopeKind.RM, relationship_manager_id=relationship_manager_id)
    elif branch_id is not None:
        snapshots = snapshots.filter(scope=ScopeKind.BRANCH, branch_id=branch_id)
    else:
        snapshots = snapshots.filter(scope=ScopeKind.BANK)
    return snapshots.values_list("value", flat=True).first()


def kpi_target_current(*, kpi: KpiDefinition, on: date | None = None) -> KpiTarget | None:
    on = on or timezone.localdate()
    targets = sorted((t for t in kpi.targets.all() if t.effective_from <= on), key=lambda t: -t.version)
    return targets[0] if targets else None


# --- Scopes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiScope:
    scope: str
    branch_id: int | None = None
    relationship_manager_id: int | None = None

    @property
    def query(self) -> dict:
        return {"scope": self.scope, "branch_id": self.branch_id if self.scope == ScopeKind.BRANCH else None,
                "relationship_manager_id": self.relationship_manager_id}


def _rm_branch_id(rm_id: int) -> int | None:
    return User.objects.filter(pk=rm_id).values_list("branch_id", flat=True).first()


def kpi_scope_allowed(*, principal: Any, scope: KpiScope) -> bool:
    """May the principal see this scope's figures? The bank's totals are open to every KPI viewer.

    Head office (admin, auditor, an API key without a branch): everything. Branch manager:
    their branch and its RMs. Complaint desk: their branch. RM: themselves.
    """
    if not principal_scope.is_staff_principal(principal):
        if principal.branch_id is None:
            return True
        if scope.scope == ScopeKind.BRANCH:
            return scope.branch_id == principal.branch_id
        if scope.scope == ScopeKind.RM:
            return _rm_branch_id(scope.relationship_manager_id) == principal.branch_id
        return False
    if not permissions.can_view_kpis(principal):
        return False
    if permissions.sees_all_branches(principal) or scope.scope == ScopeKind.BANK:
        return True
    if scope.scope == ScopeKind.BRANCH:
        return principal.branch_id is not None and scope.branch_id == principal.branch_id and (
            permissions.is_branch_manager(principal) or permissions.is_complaint_desk(principal))
    if scope.scope == ScopeKind.RM:
        if permissions.is_relationship_manager(principal) and scope.relationship_manager_id == principal.pk:
            return True
        return (permissions.is_branch_manager(principal) and principal.branch_id is not None
                and _rm_branch_id(scope.relationship_manager_id) == principal.branch_id)
    return False


def kpi_default_scope_for(*, user: User) -> KpiScope:
    """The scope a user's dashboard opens on: head office the bank, a branch role its branch, an RM themselves."""
    if permissions.sees_all_branches(user):
        return KpiScope(ScopeKind.BANK)
    if (permissions.is_branch_manager(user) or permissions.is_complaint_desk(user)) and user.branch_id:
        return KpiScope(ScopeKind.BRANCH, branch_id=user.branch_id)
    if permissions.is_relationship_manager(user):
        return KpiScope(ScopeKind.RM, relationship_manager_id=user.pk)
    return KpiScope(ScopeKind.BANK)


def kpi_snapshots_visible_to(*, principal: Any) -> QuerySet[KpiSnapshot]:
    """Snapshot rows the principal may read (the API's list)."""
    snapshots = KpiSnapshot.objects.select_related("kpi", "target").order_by("-period_start", "kpi__position", "id")
    if not principal_scope.is_staff_principal(principal):
        if principal.branch_id is None:
            return snapshots
        return snapshots.filter(Q(scope=ScopeKind.BRANCH, branch_id=principal.branch_id)
                                | Q(scope=ScopeKind.RM, relationship_manager__branch_id=principal.branch_id))
    if not permissions.can_view_kpis(principal):
        return snapshots.none()
    if permissions.sees_all_branches(principal):
        return snapshots
    allowed = Q(scope=ScopeKind.BANK)
    if principal.branch_id and (permissions.is_branch_manager(principal) or permissions.is_complaint_desk(principal)):
        allowed |= Q(scope=ScopeKind.BRANCH, branch_id=principal.branch_id)
    if principal.branch_id and permissions.is_branch_manager(principal):
        allowed |= Q(scope=ScopeKind.RM, relationship_manager__branch_id=principal.branch_id)
    if permissions.is_relationship_manager(principal):
        allowed |= Q(scope=ScopeKind.RM, relationship_manager_id=principal.pk)
    return snapshots.filter(allowed)


# --- Tiles, series, tables (rendered from snapshots only) ---------------------------------------


@dataclass
class KpiTile:
    kpi: KpiDefinition
    period: Period
    scope: KpiScope
    value: Decimal | None
    numerator: Decimal | None
    denominator: Decimal | None
    rag: str
    target: KpiTarget | None
    previous_value: Decimal | None
    last_year_value: Decimal | None
    data_as_of: datetime | None
    series: list[tuple[str, Decimal | None]] = field(default_factory=list)

    @staticmethod
    def _change(value: Decimal | None, other: Decimal | None) -> Decimal | None:
        return None if value is None or other is None else value - other

    @property
    def change_vs_previous(self) -> Decimal | None:
        return self._change(self.value, self.previous_value)

    @property
    def change_vs_last_year(self) -> Decimal | None:
        return self._change(self.value, self.last_year_value)

    @property
    def trend(self) -> str:
        """"better", "worse" or "flat" against the previous period, in the KPI's direction."""
        change = self.change_vs_previous
        if change is None or change == 0:
            return "flat"
        better = change > 0 if self.kpi.direction == "higher" else change < 0
        return "better" if better else "worse"


def _scope_filter(scope: KpiScope) -> Q:
    if scope.scope == ScopeKind.RM:
        return Q(scope=ScopeKind.RM, relationship_manager_id=scope.relationship_manager_id)
    if scope.scope == ScopeKind.BRANCH:
        return Q(scope=ScopeKind.BRANCH, branch_id=scope.branch_id)
    return Q(scope=ScopeKind.BANK)


def kpi_tiles(*, scope: KpiScope, period: Period, kpi_codes: list[str] | None = None,
              chart_periods: int = CHART_PERIODS, definitions: list[KpiDefinition] | None = None) -> list[KpiTile]:
    """One tile per KPI for a scope and period, with trend and a series of ``chart_periods`` periods.

    One query for every figure: the series window plus the same period a year earlier.
    ``definitions``: the ``kpi_definition_list()`` the caller already read (saves its two queries).
    The caller has checked ``kpi_scope_allowed``.
    """
    all_definitions = kpi_definition_list() if definitions is None else definitions
    definitions = [d for d in all_definitions if kpi_codes is None or d.code in kpi_codes]
    if kpi_codes is not None:
        definitions.sort(key=lambda d: kpi_codes.index(d.code))
    first = period.shifted(-(chart_periods - 1))
    last_year = period.same_period_last_year()
    rows = (KpiSnapshot.objects.filter(_scope_filter(scope), period_kind=period.kind, dimension="",
                                       kpi__in=definitions)
            .filter(Q(period_start__gte=min(first.start, last_year.start), period_start__lte=period.start))
            .select_related("target")
            .order_by("period_start"))
    by_kpi: dict[int, dict[date, KpiSnapshot]] = {}
    for row in rows:
        by_kpi.setdefault(row.kpi_id, {})[row.period_start] = row
    tiles = []
    for definition in definitions:
        snapshots = by_kpi.get(definition.pk, {})
        current = snapshots.get(period.start)
        previous = snapshots.get(period.previous().start)
        year_ago = snapshots.get(last_year.start)
        series = []
        for step in range(chart_periods - 1, -1, -1):
            shifted = period.shifted(-step)
            snapshot = snapshots.get(shifted.start)
            series.append((shifted.label, snapshot.value if snapshot else None))
        tiles.append(KpiTile(
            kpi=definition, period=period, scope=scope,
            value=current.value if current else None,
            numerator=current.numerator if current else None,
            denominator=current.denominator if current else None,
            rag=current.rag if current else "",
            target=current.target if current else kpi_target_current(kpi=definition, on=period.start),
            previous_value=previous.value if previous else None,
            last_year_value=year_ago.value if year_ago else None,
            data_as_of=current.data_as_of if current else None,
            series=series,
        ))
    return tiles


def kpi_rm_ranking(*, branch_id: int, period: Period, kpi_code: str,
                   definition: KpiDefinition | None = None) -> list[KpiSnapshot]:
    """The branch's RMs by one KPI for the period, best first (in the KPI's direction)."""
    definition = definition or kpi_definition_get(code=kpi_code)
    order = "-value" if definition.direction == "higher" else "value"
    return list(KpiSnapshot.objects.filter(
        kpi=definition, period_kind=period.kind, period_start=period.start, scope=ScopeKind.RM, dimension="",
        relationship_manager__branch_id=branch_id, value__isnull=False,
    ).select_related("relationship_manager").order_by(order, "relationship_manager_id"))


def kpi_branch_table(*, period: Period, kpi_codes: list[str]) -> list[dict]:
    """Every branch with its figures of ``kpi_codes`` for the period (head office's table)."""
    rows = KpiSnapshot.objects.filter(period_kind=period.kind, period_start=period.start, scope=ScopeKind.BRANCH,
                                      dimension="", kpi__code__in=kpi_codes).select_related("kpi")
    figures: dict[int, dict[str, KpiSnapshot]] = {}
    for row in rows:
        figures.setdefault(row.branch_id, {})[row.kpi.code] = row
    return [{"branch": branch, "figures": [figures.get(branch.pk, {}).get(code) for code in kpi_codes]}
            for branch in Branch.objects.filter(is_head_office=False).order_by("code")]


def kpi_by_tier(*, scope: KpiScope, period: Period, kpi_code: str = "clv_average") -> list[KpiSnapshot]:
    return list(KpiSnapshot.objects.filter(_scope_filter(scope), kpi__code=kpi_code, period_kind=period.kind,
                                           period_start=period.start).exclude(dimension="").order_by("dimension"))


def latest_computed_period(*, kind: str = PeriodKind.MONTH) -> Period:
    """The latest complete period of ``kind`` (the dashboard's default)."""
    return period_containing(kind, timezone.now()).previous()


# --- Drill-down: the rows behind a figure -----------------------------------------------------

CUSTOMER_KPIS = {"retention_rate", "churn_rate", "clv_average", "active_rate", "contacts_per_customer",
                 "acquisition_rate", "tier_conversion_rate", "product_usage_rate", "churn_warning_rate"}
COMPLAINT_KPIS = {"complaint_rate", "complaints_per_10m_customers", "complaints_per_1000_branches",
                  "response_time_hours", "sla_compliance_rate"}
SURVEY_KPIS = {"satisfaction_rate", "csat_average", "nps", "satisfaction_index"}


def _at_start(period: Period) -> Q:
    return ((Q(customer_since__isnull=True) | Q(customer_since__lt=period.start))
            & (Q(closed_on__isnull=True) | Q(closed_on__gte=period.start)))


def _at_end(period: Period) -> Q:
    return ((Q(customer_since__isnull=True) | Q(customer_since__lt=period.next_start))
            & (Q(closed_on__isnull=True) | Q(closed_on__gte=period.next_start)))


def _customer_numerator(code: str, period: Period) -> Q | Exists:
    start_at, end_at = period.starts_at, period.ends_at
    if code == "retention_rate":
        return _at_start(period) & (Q(closed_on__isnull=True) | Q(closed_on__gte=period.next_start))
    if code == "churn_rate":
        return Q(closed_on__gte=period.start, closed_on__lt=period.next_start)
    if code == "acquisition_rate":
        return Q(customer_since__gte=period.start, customer_since__lt=period.next_start)
    if code == "active_rate":
        return _at_end(period) & Q(Exists(Transaction.objects.filter(
            customer_id=OuterRef("pk"), occurred_at__gte=start_at, occurred_at__lt=end_at)))
    if code == "contacts_per_customer":
        return Q(Exists(Interaction.objects.filter(customer_id=OuterRef("pk"), occurred_at__gte=start_at,
                                                   occurred_at__lt=end_at)))
    if code == "tier_conversion_rate":
        return Q(Exists(SegmentHistory.objects.filter(
            customer_id=OuterRef("pk"), changed_at__gte=start_at, changed_at__lt=end_at, from_tier_rank__gt=0,
            to_tier_rank__gt=F("from_tier_rank"))))
    if code == "clv_average":
        return _at_end(period) & Q(segment__isnull=False)
    if code == "churn_warning_rate":  # kpis._CHURN_WARNED_IN_PERIOD
        return _at_end(period) & Q(Exists(RetentionTask.objects.filter(
            customer_id=OuterRef("pk"), created_at__gte=start_at, created_at__lt=end_at)))
    raise KeyError(code)


def kpi_drill_rows(*, user: User, kpi_code: str, period: Period, scope: KpiScope) -> tuple[str, QuerySet]:
    """("customers" | "complaints" | "responses", the rows counted in the figure's numerator).

    Read through the owning app's scoped selector, so a user sees only rows they may see
    even when the figure covers more (an RM drilling into the bank's figure sees their own).
    """
    if kpi_code in CUSTOMER_KPIS:
        rows = customer_list_visible_to(user=user)
        if scope.scope == ScopeKind.BRANCH:
            rows = rows.filter(branch_id=scope.branch_id)
        elif scope.scope == ScopeKind.RM:
            rows = rows.filter(relationship_manager_id=scope.relationship_manager_id)
        if kpi_code == "product_usage_rate":
            rows = rows.filter(_at_end(period)).filter(pk__in=_customers_with_products(period, minimum=2))
        else:
            rows = rows.filter(_customer_numerator(kpi_code, period))
        return "customers", rows.order_by("name", "id")
    if kpi_code in COMPLAINT_KPIS:
        rows = complaint_list_visible_to(user=user)
        if scope.scope == ScopeKind.BRANCH:
            rows = rows.filter(branch_id=scope.branch_id)
        elif scope.scope == ScopeKind.RM:
            rows = rows.filter(customer__relationship_manager_id=scope.relationship_manager_id)
        if kpi_code == "response_time_hours":
            rows = rows.filter(first_response_at__gte=period.starts_at, first_response_at__lt=period.ends_at)
        elif kpi_code == "sla_compliance_rate":
            rows = rows.filter(resolved_at__gte=period.starts_at, resolved_at__lt=period.ends_at).exclude(
                RESOLVED_ON_TIME)
        else:
            rows = rows.filter(received_at__gte=period.starts_at, received_at__lt=period.ends_at)
        return "complaints", rows.order_by("-received_at", "-id")
    if kpi_code in SURVEY_KPIS:
        rows = survey_response_list_visible_to(principal=user).filter(
            submitted_at__gte=period.starts_at, submitted_at__lt=period.ends_at)
        if scope.scope == ScopeKind.BRANCH:
            rows = rows.filter(customer__branch_id=scope.branch_id)
        elif scope.scope == ScopeKind.RM:
            rows = rows.filter(customer__relationship_manager_id=scope.relationship_manager_id)
        if kpi_code == "satisfaction_rate":
            rows = rows.filter(csat__lt=kpis.CSAT_SATISFIED_MIN)  # the answers that pulled it down
        return "responses", rows
    return "none", Customer.objects.none()


def _customers_with_products(period: Period, *, minimum: int):
    return (Holding.objects.filter(opened_on__lt=period.next_start)
            .filter(Q(closed_on__isnull=True) | Q(closed_on__gte=period.next_start))
            .values("customer_id").annotate(products=Count("product_id", distinct=True))
            .filter(products__gte=minimum).values("customer_id"))


# --- Reports ------------------------------------------------------------------------------------


def _report_scope(principal: Any) -> Q | None:
    """Head office all, a branch manager the bank's and their branch's, an API key its branch's; None: nothing."""
    if not principal_scope.is_staff_principal(principal):
        return Q() if principal.branch_id is None else Q(branch_id=principal.branch_id)
    if not permissions.can_view_reports(principal):
        return None
    if permissions.sees_all_branches(principal):
        return Q()
    if principal.branch_id is None:
        return Q(branch__isnull=True)
    return Q(branch__isnull=True) | Q(branch_id=principal.branch_id)


def report_list_visible_to(*, principal: Any) -> QuerySet[Report]:
    """Reports the principal may see, without their files."""
    scope = _report_scope(principal)
    reports = Report.objects.select_related("branch", "requested_by").defer("pdf", "xlsx", "content")
    return reports.none() if scope is None else reports.filter(scope)


def report_get_visible_to(*, principal: Any, report_id: int) -> Report:
    """One report (with its files); Report.DoesNotExist when out of reach (a 404)."""
    scope = _report_scope(principal)
    if scope is None:
        raise Report.DoesNotExist
    return Report.objects.select_related("branch").filter(scope).get(pk=report_id)


def report_latest_done(*, kind: str, period_start: date, branch_id: int | None) -> Report | None:
    return (Report.objects.filter(kind=kind, period_start=period_start, branch_id=branch_id,
                                  status=ReportStatus.DONE).order_by("-revision").first())


def report_recipients(*, report: Report) -> QuerySet[User]:
    """Who is told a report is ready: the branch's managers, or head office for the bank's."""
    users = User.objects.filter(is_active=True)
    if report.branch_id is not None:
        return users.filter(branch_id=report.branch_id, groups__name=Role.BRANCH_MANAGER).distinct()
    return users.filter(groups__name=Role.ADMIN).distinct()


# --- Inbox: every chapter's messages (core.notifications) -------------------------------------------

INBOX_PAGE_SIZE = 50


def inbox_unread_count(*, user: User) -> int:
    from core import notifications

    return notifications.notification_unread_count(user=user)


def inbox_page(*, user: User, page_number) -> Page:
    """One page of the user's own messages, newest first, each with its ``text`` in the reader's language."""
    from core import notifications

    page = Paginator(notifications.notification_list_for(user=user), INBOX_PAGE_SIZE).get_page(page_number)
    for notification in page.object_list:
        notification.text = notifications.notification_text(notification)
    return page
