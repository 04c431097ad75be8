"""CSV / XLSX exports of list pages (customers, complaints, at-risk customers, KPIs): what the page's filters show.

The rows come from the same scoped selectors the list pages use, with the same GET parameters,
so an export never holds a row the page would not. PII is masked unless the user holds reveal
rights and asks for it (``reveal=1``); every export is audited with its filters and row count;
every text cell goes through ``safe_cell`` (a leading = + - @ cannot become a formula).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from complaints import selectors as complaint_selectors
from core.audit import audit_record
from core.exports import safe_cell
from customers.selectors import customer_search_visible_to
from lifecycle import permissions as lifecycle_permissions
from lifecycle import selectors as lifecycle_selectors
from lifecycle.models import RetentionStatus, RetentionTask, SuggestedAction

FORMATS = ("csv", "xlsx")
LISTS = ("customers", "complaints", "at-risk")
EXPORT_MAX_ROWS = 100_000
# Beyond accounts.permissions.can_export_lists: who may export a list is who may open its page.
LIST_PERMISSIONS = {"at-risk": lifecycle_permissions.can_view_at_risk}


def can_export(user, list_key: str) -> bool:
    """May the user export this list (a staff role that sees customers, and the list page's own check)?"""
    page_check = LIST_PERMISSIONS.get(list_key)
    return permissions.can_export_lists(user) and (page_check is None or page_check(user))


def _int_or_none(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and len(raw) < 19 else None


def _date_or_none(raw: str | None) -> date | None:
    try:
        value = date.fromisoformat(raw) if raw else None
    except ValueError:
        return None
    if value and not (complaint_selectors.DATE_MIN <= value <= complaint_selectors.DATE_MAX):
        return None
    return value


def _customer_rows(request: HttpRequest, *, reveal: bool) -> tuple[list[str], Iterable[list]]:
    params = request.GET
    customers = customer_search_visible_to(
        user=request.user, query=params.get("q", "")[:100],
        branch_id=_int_or_none(params.get("branch")) if permissions.sees_all_branches(request.user) else None,
        status=params.get("status") or None,
        data_quality=params.get("data_quality") or None,
        order=params.get("order") or "name",
    )
    header = [_("Customer number"), _("Name"), _("Branch"), _("Relationship manager"), _("Status"),
              _("Customer since"), _("Mobile phone"), _("National ID number"), _("Total assets (AUM)"),
              _("Completeness score")]

    def rows():
        for customer in customers[:EXPORT_MAX_ROWS]:
            rm = customer.relationship_manager
            yield [customer.external_id, customer.name, customer.branch.name,
                   (rm.display_name) if rm else "", customer.get_status_display(),
                   customer.customer_since, customer.phone if reveal else customer.masked_phone,
                   customer.id_number if reveal else customer.masked_id_number, customer.total_assets,
                   customer.completeness_score]

    return header, rows()


def _complaint_rows(request: HttpRequest, *, reveal: bool) -> tuple[list[str], Iterable[list]]:
    params = request.GET
    status = params.get("status", complaint_selectors.STATUS_OPEN)
    filters = complaint_selectors.QueueFilters(
        status=status, category_id=_int_or_none(params.get("category")), severity=params.get("severity") or None,
        branch_id=_int_or_none(params.get("branch")), channel=params.get("channel") or None,
        product_id=_int_or_none(params.get("product")), customer_id=_int_or_none(params.get("customer")),
        breached={"yes": True, "no": False}.get(params.get("breached", "")),
        received_from=_date_or_none(params.get("received_from")),
        received_to=_date_or_none(params.get("received_to")),
        order=params.get("order") or complaint_selectors.QUEUE_DEFAULT_ORDER,
    )
    complaints = complaint_selectors.complaint_queue_visible_to(user=request.user, filters=filters)
    header = [_("Reference number"), _("Received at"), _("Branch"), _("Category"), _("Severity"), _("Status"),
              _("Channel"), _("Complainant"), _("Contact phone"), _("Resolution due"), _("Overdue")]

    def rows():
        for complaint in complaints[:EXPORT_MAX_ROWS]:
            yield [complaint.reference, timezone.localtime(complaint.received_at), complaint.branch.name,
                   str(complaint.category), complaint.get_severity_display(), complaint.get_status_display(),
                   complaint.get_channel_display(), complaint.complainant_name,
                   complaint.contact_phone if reveal else complaint.masked_contact_phone,
                   timezone.localtime(complaint.resolution_due_at), _("yes") if complaint.is_breached else _("no")]

    return header, rows()


def _pct_or_none(raw: str | None) -> int | None:
    """The at-risk page's "churn probability at least (%)": an integer 0-100, else the policy's level."""
    return int(raw) if raw and raw.isdigit() and int(raw) <= 100 else None


def _at_risk_rows(request: HttpRequest, *, reveal: bool) -> tuple[list[str], Iterable[list]]:
    at_risk = lifecycle_selectors.at_risk_list_visible_to(
        principal=request.user, min_probability_pct=_pct_or_none(request.GET.get("min_probability")))
    open_task = RetentionTask.objects.filter(customer_id=OuterRef("customer_id"), status=RetentionStatus.OPEN)
    scores = at_risk.scores.select_related("customer__branch").annotate(
        task_due_on=Subquery(open_task.values("due_on")[:1]),
        task_action=Subquery(open_task.values("suggested_action")[:1]))
    header = [_("Customer number"), _("Name"), _("Branch"), _("Relationship manager"),
              _("Churn probability (%)"), _("Why"), _("Retention task due"), _("Suggested action"),
              _("Mobile phone"), _("Scored as of")]
    as_of = at_risk.run.as_of if at_risk.run else None

    def rows():
        for score in scores[:EXPORT_MAX_ROWS]:
            customer = score.customer
            rm = customer.relationship_manager
            action = score.task_action
            yield [customer.external_id, customer.name, customer.branch.name,
                   (rm.display_name) if rm else "", round(score.probability * 100, 1),
                   "; ".join(lifecycle_selectors.reasons_text(score.reasons)), score.task_due_on,
                   str(SuggestedAction(action).label) if action in SuggestedAction.values else "",
                   customer.phone if reveal else customer.masked_phone, as_of]

    return header, rows()


ROW_BUILDERS = {"customers": _customer_rows, "complaints": _complaint_rows, "at-risk": _at_risk_rows}


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # local wall time; spreadsheets hold no time zone
    return safe_cell(value)


def _respond(*, header: list[str], rows: Iterable[list], file_format: str, filename: str) -> tuple[HttpResponse, int]:
    count = 0
    if file_format == "csv":
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 Chinese text correctly only with a BOM
        writer = csv.writer(buffer)
        writer.writerow([safe_cell(title) for title in header])
        for row in rows:
            writer.writerow([_cell(value) for value in row])
            count += 1
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(filename[:31])
        sheet.append([safe_cell(title) for title in header])
        for row in rows:
            sheet.append([_cell(value) for value in row])
            count += 1
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(buffer.getvalue(),
                                content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{timezone.localdate():%Y%m%d}.{file_format}"'
    return response, count


def list_export(*, request: HttpRequest, list_key: str, file_format: str) -> HttpResponse:
    """Export a list page's filtered rows; audited (who, which list, filters, rows, revealed or not)."""
    reveal = request.GET.get("reveal") == "1" and permissions.can_reveal_pii(request.user)
    header, rows = ROW_BUILDERS[list_key](request, reveal=reveal)
    response, count = _respond(header=header, rows=rows, file_format=file_format, filename=list_key)
    filters = {key: value[:100] for key, value in request.GET.items() if key not in ("format", "reveal")}
    audit_record(actor=request.user, action="evaluation.list_export",
                 detail={"list": list_key, "format": file_format, "rows": count, "revealed": reveal,
                         "filters": filters})
    return response


def kpi_export(*, request: HttpRequest, tiles: list, period, scope_label: str) -> HttpResponse:
    """The KPI page as a table: figures as numbers."""
    file_format = request.GET["format"]
    header = [_("Code"), _("KPI"), _("Unit"), _("Period"), _("Scope"), _("Value"), _("Target"), _("Status"),
              _("Numerator"), _("Denominator"), _("Previous period"), _("Same period last year")]
    rows = ([tile.kpi.code, tile.kpi.label, tile.kpi.get_unit_display(), period.label, scope_label,
             _num(tile.value), _num(tile.target.value) if tile.target else None, tile.rag, _num(tile.numerator),
             _num(tile.denominator), _num(tile.previous_value), _num(tile.last_year_value)] for tile in tiles)
    response, count = _respond(header=header, rows=rows, file_format=file_format, filename="kpis")
    audit_record(actor=request.user, action="evaluation.list_export",
                 detail={"list": "kpis", "format": file_format, "rows": count, "period": period.label,
                         "scope": request.GET.get("scope", "")})
    return response


def _num(value):
    return None if value is None else float(value)
