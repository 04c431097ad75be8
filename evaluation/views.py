"""Pages of the evaluation app: the home dashboard, KPIs with drill-down, reports, list exports.

Every figure on these pages is read from snapshots; the rows behind a figure come through the
owning app's scoped selector (evaluation.selectors.kpi_drill_rows).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, Window
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts import permissions
from accounts.models import Branch, User
from complaints.models import OPEN_STATUSES, Complaint, SlaState
from complaints.selectors import complaint_list_visible_to
from core import dashboard as dashboard_registry
from core import notifications
from core.errors import ApplicationError
from customers.selectors import customer_list_visible_to, next_step_list_visible_to
from evaluation import exports, selectors, services
from evaluation.models import KpiDefinition, PeriodKind, Report, ReportKind, ScopeKind
from evaluation.periods import Period, period_parse
from service.selectors import follow_up_list_visible_to

DRILL_PAGE_SIZE = 50
RM_TILES = ["retention_rate", "churn_rate", "active_rate", "contacts_per_customer", "satisfaction_rate", "nps"]
DESK_TILES = ["response_time_hours", "sla_compliance_rate", "complaint_rate", "satisfaction_rate"]
BRANCH_TILES = ["retention_rate", "churn_rate", "satisfaction_rate", "complaint_rate", "response_time_hours",
                "active_rate", "tier_conversion_rate", "product_usage_rate"]
CHART_TILES = ["retention_rate", "satisfaction_rate", "complaint_rate", "response_time_hours"]
BRANCH_TABLE_KPIS = ["retention_rate", "churn_rate", "active_rate", "satisfaction_rate", "nps", "complaint_rate",
                     "response_time_hours", "sla_compliance_rate"]
RANKING_DEFAULT = "satisfaction_rate"


# --- Parsing the shared GET parameters ---------------------------------------------------------


def period_from(request: HttpRequest, *, kind: str | None = None) -> Period:
    """?period=2026-11 | 2026-Q4 | 2026; default (or invalid): the last complete month."""
    raw = request.GET.get("period", "")
    try:
        period = period_parse(raw) if raw else None
    except ValueError:
        period = None
    if period is None or period.start > timezone.localdate():
        period = selectors.latest_computed_period(kind=kind or PeriodKind.MONTH)
    return period


def scope_from(request: HttpRequest) -> selectors.KpiScope:
    """?scope=bank | branch&branch=<id> | rm&rm=<id>; default: the user's own scope. 404 when not allowed."""
    user = request.user
    raw = request.GET.get("scope")
    if not raw:
        return selectors.kpi_default_scope_for(user=user)
    try:
        if raw == ScopeKind.BRANCH:
            scope = selectors.KpiScope(ScopeKind.BRANCH, branch_id=int(request.GET.get("branch", "")))
        elif raw == ScopeKind.RM:
            scope = selectors.KpiScope(ScopeKind.RM, relationship_manager_id=int(request.GET.get("rm", "")))
        elif raw == ScopeKind.BANK:
            scope = selectors.KpiScope(ScopeKind.BANK)
        else:
            raise Http404
    except ValueError as error:
        raise Http404 from error
    if not selectors.kpi_scope_allowed(principal=user, scope=scope):
        raise Http404
    return scope


def scope_label(scope: selectors.KpiScope, *, viewer: User | None = None) -> str:
    """The scope's name; the viewer's own branch or self are read from the viewer (the page has them)."""
    if scope.scope == ScopeKind.BRANCH:
        if viewer is not None and viewer.branch_id == scope.branch_id:
            return viewer.branch.name
        branch = Branch.objects.filter(pk=scope.branch_id).first()
        return branch.name if branch else _("branch")
    if scope.scope == ScopeKind.RM:
        if viewer is not None and viewer.pk == scope.relationship_manager_id:
            return viewer.display_name
        rm = User.objects.filter(pk=scope.relationship_manager_id).first()
        return (rm.display_name) if rm else _("relationship manager")
    return _("whole bank")


def scope_query(scope: selectors.KpiScope, period: Period) -> str:
    """The query string that names this scope and period (links keep both)."""
    query = f"period={period.label}&scope={scope.scope}"
    if scope.scope == ScopeKind.BRANCH:
        query += f"&branch={scope.branch_id}"
    elif scope.scope == ScopeKind.RM:
        query += f"&rm={scope.relationship_manager_id}"
    return query


def _require(predicate, user) -> None:
    if not predicate(user):
        raise PermissionDenied


def _chart_data(tiles: list[selectors.KpiTile]) -> list[dict]:
    return [{"code": tile.kpi.code, "label": tile.kpi.label,
             "labels": [label for label, _value in tile.series],
             "values": [None if value is None else float(value) for _label, value in tile.series],
             "target": float(tile.target.value) if tile.target else None} for tile in tiles]


# --- Home dashboard ----------------------------------------------------------------------------


def _registered_tiles(request: HttpRequest) -> list[str]:
    """Tiles other chapters registered in core.dashboard (lifecycle's at-risk customers, ...), rendered."""
    return [render_to_string(template, context, request=request)
            for template, context in dashboard_registry.dashboard_tiles_for(request=request)]


def dashboard(request: HttpRequest) -> HttpResponse:
    """The signed-in role's start page, rendered from KPI snapshots (and a few live work counts)."""
    user = request.user
    period = period_from(request)
    context: dict = {"period": period, "registered_tiles": _registered_tiles(request), "sections": []}
    scope = selectors.kpi_default_scope_for(user=user)
    context["scope"], context["scope_label"], context["scope_query"] = (
        scope, scope_label(scope, viewer=user), scope_query(scope, period))
    head_office = permissions.sees_all_branches(user)
    # Every KPI definition (with its targets) read once for the whole page; the sections pick from it.
    definitions = list(selectors.kpi_definition_list())
    by_code = {definition.code: definition for definition in definitions}
    if head_office:
        tiles = selectors.kpi_tiles(scope=scope, period=period, kpi_codes=BRANCH_TILES, definitions=definitions)
        context.update(role="head_office", tiles=tiles,
                       charts=_chart_data([tile for tile in tiles if tile.kpi.code in CHART_TILES]),
                       branch_table=selectors.kpi_branch_table(period=period, kpi_codes=BRANCH_TABLE_KPIS),
                       branch_table_kpis=[by_code[code] for code in BRANCH_TABLE_KPIS if code in by_code])
    elif permissions.is_branch_manager(user) and user.branch_id:
        tiles = selectors.kpi_tiles(scope=scope, period=period, kpi_codes=BRANCH_TILES, definitions=definitions)
        rankable = selectors.CUSTOMER_KPIS | selectors.SURVEY_KPIS
        ranking_code = request.GET.get("rank", RANKING_DEFAULT)
        if ranking_code not in rankable or ranking_code not in by_code:
            ranking_code = RANKING_DEFAULT
        context.update(role="branch_manager", tiles=tiles,
                       charts=_chart_data([tile for tile in tiles if tile.kpi.code in CHART_TILES]),
                       ranking=selectors.kpi_rm_ranking(branch_id=user.branch_id, period=period,
                                                        kpi_code=ranking_code, definition=by_code[ranking_code]),
                       ranking_kpi=by_code[ranking_code],
                       ranking_choices=[d for d in definitions if d.code in rankable])
    elif permissions.is_complaint_desk(user) and user.branch_id:
        context.update(role="complaint_desk", tiles=selectors.kpi_tiles(scope=scope, period=period,
                                                                         kpi_codes=DESK_TILES, chart_periods=2,
                                                                         definitions=definitions),
                       desk=_desk_counts(user))
    elif permissions.is_relationship_manager(user):
        context.update(role="rm", tiles=selectors.kpi_tiles(scope=scope, period=period, kpi_codes=RM_TILES,
                                                            chart_periods=2, definitions=definitions),
                       work=_rm_work(user))
    else:
        return render(request, "home.html", context)
    return render(request, "evaluation/dashboard.html", context)


def _desk_counts(user: User) -> dict:
    """Open complaints of the desk's branch by the state of their running clock; breaches today; mine."""
    now = timezone.now()
    open_complaints = complaint_list_visible_to(user=user).filter(status__in=[s.value for s in OPEN_STATUSES])
    states = {state: 0 for state in (SlaState.ON_TRACK, SlaState.WARNING, SlaState.CRITICAL, SlaState.OVERDUE)}
    for complaint in open_complaints.select_related(None).select_related("sla_policy"):
        state = complaint.sla_state(now=now)
        states[state] = states.get(state, 0) + 1
    today_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    breaches_today = complaint_list_visible_to(user=user).filter(
        Q(first_response_breached_at__gte=today_start) | Q(resolution_breached_at__gte=today_start)).count()
    mine = open_complaints.filter(created_by=user).count()
    return {"states": [(SlaState(state).label, state, count) for state, count in states.items()],
            "breaches_today": breaches_today, "mine": mine, "open": sum(states.values())}


def _rm_work(user: User) -> dict:
    """An RM's work due: follow-ups, next steps from interactions, open complaints of their customers."""
    today = timezone.localdate()
    my_customers = customer_list_visible_to(user=user)
    follow_ups = follow_up_list_visible_to(user=user).filter(due_on__lte=today + timedelta(days=7))
    # The same rule as the "My next steps" page (customers.selectors), capped at a week ahead.
    next_steps = next_step_list_visible_to(user=user, today=today, until=today + timedelta(days=7),
                                           visible_customers=my_customers)
    # An RM does not see the complaint queue; they see which of their customers have one open.
    with_open_complaints = my_customers.filter(
        pk__in=Complaint.objects.open().filter(customer__isnull=False).values("customer_id")).order_by("name", "id")
    follow_ups, follow_ups_count = _first_rows_and_count(follow_ups)
    next_steps, next_steps_count = _first_rows_and_count(next_steps)
    complaint_customers, complaint_customers_count = _first_rows_and_count(with_open_complaints)
    return {"follow_ups": follow_ups, "follow_ups_count": follow_ups_count,
            "next_steps": next_steps, "next_steps_count": next_steps_count,
            "complaint_customers": complaint_customers, "complaint_customers_count": complaint_customers_count}


def _first_rows_and_count(rows, limit: int = 5) -> tuple[list, int]:
    """The first ``limit`` rows and how many there are in all, in one query (a window count runs before LIMIT)."""
    first = list(rows.annotate(rows_in_all=Window(Count("pk")))[:limit])
    return first, first[0].rows_in_all if first else 0


# --- KPI pages -----------------------------------------------------------------------------------


class KpiListView(LoginRequiredMixin, View):
    """/evaluation/: every KPI for a scope and period, against target, with trend."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require(permissions.can_view_kpis, request.user)
        kind = request.GET.get("kind") if request.GET.get("kind") in PeriodKind.values else None
        period = period_from(request, kind=kind)
        scope = scope_from(request)
        tiles = selectors.kpi_tiles(scope=scope, period=period, chart_periods=2)
        if request.GET.get("format") in exports.FORMATS:
            return exports.kpi_export(request=request, tiles=tiles, period=period, scope_label=scope_label(scope))
        return render(request, "evaluation/kpi_list.html", {
            "tiles": tiles, "period": period, "scope": scope, "scope_label": scope_label(scope),
            "scope_query": scope_query(scope, period), "scope_choices": _scope_choices(request.user),
            "period_choices": _period_choices(period),
        })


def _scope_choices(user: User) -> list[tuple[str, str]]:
    """(query, label) of the scopes the user may pick on the KPI page."""
    choices = [("scope=bank", _("whole bank"))]
    if permissions.sees_all_branches(user):
        branches = Branch.objects.filter(is_head_office=False).order_by("code")
    elif user.branch_id and (permissions.is_branch_manager(user) or permissions.is_complaint_desk(user)):
        branches = Branch.objects.filter(pk=user.branch_id)
    else:
        branches = Branch.objects.none()
    choices += [(f"scope=branch&branch={branch.pk}", branch.name) for branch in branches]
    if permissions.is_relationship_manager(user):
        choices.append((f"scope=rm&rm={user.pk}", _("my customers")))
    return choices


def _period_choices(period: Period) -> list[str]:
    latest = {kind: selectors.latest_computed_period(kind=kind) for kind in PeriodKind.values}
    labels = [latest[PeriodKind.MONTH].shifted(-step).label for step in range(13)]
    labels += [latest[PeriodKind.QUARTER].shifted(-step).label for step in range(5)]
    labels += [latest[PeriodKind.YEAR].shifted(-step).label for step in range(3)]
    if period.label not in labels:
        labels.insert(0, period.label)
    return labels


class KpiDetailView(LoginRequiredMixin, View):
    """/evaluation/kpis/<code>/: the KPI's definition, its 13-period chart and the rows behind the figure."""

    def get(self, request: HttpRequest, code: str) -> HttpResponse:
        _require(permissions.can_view_kpis, request.user)
        try:
            definition = selectors.kpi_definition_get(code=code)
        except KpiDefinition.DoesNotExist as error:
            raise Http404 from error
        period = period_from(request, kind=None)
        scope = scope_from(request)
        tile = selectors.kpi_tiles(scope=scope, period=period, kpi_codes=[code])[0]
        row_kind, rows = selectors.kpi_drill_rows(user=request.user, kpi_code=code, period=period, scope=scope)
        page = Paginator(rows, DRILL_PAGE_SIZE).get_page(request.GET.get("page"))
        return render(request, "evaluation/kpi_detail.html", {
            "kpi": definition, "tile": tile, "period": period, "scope": scope, "scope_label": scope_label(scope),
            "scope_query": scope_query(scope, period), "row_kind": row_kind, "page": page,
            "charts": _chart_data([tile]), "by_tier": selectors.kpi_by_tier(scope=scope, period=period)
            if definition.by_tier else [],
        })


# --- Reports ---------------------------------------------------------------------------------------


class ReportListView(LoginRequiredMixin, View):
    """/evaluation/reports/: past reports per scope, newest first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        _require(permissions.can_view_reports, request.user)
        reports = selectors.report_list_visible_to(principal=request.user)
        kind = request.GET.get("kind")
        if kind in ReportKind.values:
            reports = reports.filter(kind=kind)
        branch = request.GET.get("branch", "")
        if branch == "bank":
            reports = reports.filter(branch__isnull=True)
        elif branch.isdigit():
            reports = reports.filter(branch_id=int(branch))
        page = Paginator(reports, 30).get_page(request.GET.get("page"))
        branches = (Branch.objects.filter(is_head_office=False).order_by("code")
                    if permissions.sees_all_branches(request.user)
                    else Branch.objects.filter(pk=request.user.branch_id))
        return render(request, "evaluation/report_list.html", {
            "page": page, "kinds": ReportKind.choices, "kind": kind or "", "branch": branch, "branches": branches,
            "can_regenerate": permissions.can_regenerate_reports(request.user),
        })


class ReportDetailView(LoginRequiredMixin, View):
    """/evaluation/reports/<id>/: the report, or its progress while it is generated (htmx polls)."""

    def get(self, request: HttpRequest, report_id: int) -> HttpResponse:
        _require(permissions.can_view_reports, request.user)
        report = _report_or_404(request, report_id)
        template = ("evaluation/partials/report_progress.html" if request.headers.get("HX-Request")
                    else "evaluation/report_detail.html")
        revisions = selectors.report_list_visible_to(principal=request.user).filter(
            kind=report.kind, period_start=report.period_start, branch_id=report.branch_id).order_by("-revision")
        return render(request, template, {
            "report": report, "content": report.content or {}, "revisions": revisions,
            "can_regenerate": _can_regenerate(request.user, report),
        })


def _report_or_404(request: HttpRequest, report_id: int) -> Report:
    try:
        return selectors.report_get_visible_to(principal=request.user, report_id=report_id)
    except Report.DoesNotExist as error:
        raise Http404 from error


def _can_regenerate(user: User, report: Report) -> bool:
    """Admins any report; a branch manager their branch's (not the bank's)."""
    if permissions.is_admin(user):
        return True
    return permissions.can_regenerate_reports(user) and report.branch_id is not None \
        and report.branch_id == user.branch_id


class ReportDownloadView(LoginRequiredMixin, View):
    CONTENT_TYPES = {"pdf": "application/pdf",
                     "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

    def get(self, request: HttpRequest, report_id: int, file_format: str) -> HttpResponse:
        _require(permissions.can_view_reports, request.user)
        if file_format not in self.CONTENT_TYPES:
            raise Http404
        report = _report_or_404(request, report_id)
        data = report.pdf if file_format == "pdf" else report.xlsx
        if data is None:
            raise Http404
        services.report_download_record(report=report, file_format=file_format, by=request.user)
        response = HttpResponse(bytes(data), content_type=self.CONTENT_TYPES[file_format])
        scope = f"branch-{report.branch.code}" if report.branch_id else "bank"
        response["Content-Disposition"] = (f'attachment; filename="{report.kind}-{report.period_label}-{scope}'
                                           f'-r{report.revision}.{file_format}"')
        return response


class ReportRegenerateView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, report_id: int) -> HttpResponse:
        report = _report_or_404(request, report_id)
        if not _can_regenerate(request.user, report):
            raise PermissionDenied
        try:
            new = services.report_regenerate(report=report, by=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
            return redirect("evaluation:report-detail", report_id=report.pk)
        messages.success(request, _("A new revision is being generated."))
        return redirect("evaluation:report-detail", report_id=new.pk)


# --- Exports --------------------------------------------------------------------------------------


class ListExportView(LoginRequiredMixin, View):
    """/evaluation/export/<list>/?format=csv|xlsx&<the list page's filters>."""

    def get(self, request: HttpRequest, list_key: str) -> HttpResponse:
        _require(permissions.can_export_lists, request.user)
        file_format = request.GET.get("format", "csv")
        if file_format not in exports.FORMATS or list_key not in exports.LISTS:
            raise Http404
        if not exports.can_export(request.user, list_key):
            raise PermissionDenied
        return exports.list_export(request=request, list_key=list_key, file_format=file_format)


def export_url(list_key: str, query: str, file_format: str) -> str:
    return f"{reverse('evaluation:list-export', args=[list_key])}?{query}&format={file_format}"


# --- Inbox ------------------------------------------------------------------------------------------


class InboxView(LoginRequiredMixin, View):
    """/evaluation/inbox/: the user's messages from every chapter, newest first, 50 a page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        page = selectors.inbox_page(user=request.user, page_number=request.GET.get("page"))
        return render(request, "evaluation/inbox.html", {"page": page})

    def post(self, request: HttpRequest) -> HttpResponse:
        """Mark every message read (a complaint's messages also clear when the complaint is opened)."""
        notifications.notification_mark_read(user=request.user)
        return redirect("evaluation:inbox")


class InboxBadgeView(LoginRequiredMixin, View):
    """The top bar's unread count, loaded by htmx after the page (no extra queries on every page)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(request, "evaluation/partials/inbox_badge.html",
                      {"unread": selectors.inbox_unread_count(user=request.user)})
