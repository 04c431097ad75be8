"""The periodic reports' content (MANUAL 6.2) and their PDF and XLSX renderings.

Content is built from the KPI snapshots of the report's period and scope, in the report's
language, and stored with the report (so a re-rendering never reads live data again).

Conclusions follow documented rules, in this order:
1. every KPI with a target and a figure: the figure against the target ("complaint rate
   1.30 %, above the < 1 % target");
2. complaint rate: the top root cause of the period's complaints and its share
   ("top cause: marketing methods, 38 %"), when any complaint has a root cause;
3. every KPI whose figure moved by more than TREND_NOTABLE_PCT percent of its previous value
   against the previous period: the direction and both figures.
Recommendations: one per KPI that is red or amber, from RECOMMENDATIONS; when none is, one
saying to keep the current measures.

PDF: reportlab with its built-in Adobe CID font STSong-Light (Chinese text stays extractable);
charts are reportlab drawings. XLSX: openpyxl, one sheet per table, numbers as numbers.
"""

from __future__ import annotations

import io
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import Branch
from complaints.models import Complaint, RootCause
from core import reports as report_sections
from evaluation import selectors
from evaluation.models import KpiUnit, Rag, Report, ReportKind, ScopeKind, TargetComparison
from evaluation.periods import Period

TREND_NOTABLE_PCT = Decimal("10")

REPORT_KPIS = {
    ReportKind.MONTHLY: ["satisfaction_rate", "csat_average", "nps", "satisfaction_index", "response_time_hours",
                         "sla_compliance_rate", "complaint_rate", "complaints_per_10m_customers", "churn_rate",
                         "churn_warning_rate", "retention_rate"],
    ReportKind.QUARTERLY: ["active_rate", "contacts_per_customer", "product_usage_rate", "response_time_hours",
                           "sla_compliance_rate", "satisfaction_rate", "acquisition_rate", "tier_conversion_rate",
                           "retention_rate", "churn_rate"],
    ReportKind.ANNUAL: None,  # every KPI
}
CHART_KPIS = {
    ReportKind.MONTHLY: ["satisfaction_rate", "response_time_hours", "complaint_rate", "churn_rate"],
    ReportKind.QUARTERLY: ["active_rate", "product_usage_rate", "response_time_hours", "satisfaction_rate"],
    ReportKind.ANNUAL: ["retention_rate", "satisfaction_rate", "complaint_rate", "active_rate"],
}

RECOMMENDATIONS = {
    "retention_rate": gettext_lazy("Review the customers who closed their accounts with their RMs and start "
                                   "retention calls for similar customers."),
    "churn_rate": gettext_lazy("Review the customers who closed their accounts with their RMs and start "
                               "retention calls for similar customers."),
    "churn_warning_rate": gettext_lazy("Work through the churn warnings: each needs a retention action."),
    "tier_conversion_rate": gettext_lazy("Offer the recommended products of the next tier to customers close to "
                                         "its threshold."),
    "complaint_rate": gettext_lazy("Fix the process behind the top complaint cause and check the effect next "
                                   "month."),
    "response_time_hours": gettext_lazy("Staff the complaint desk for the first response within 24 hours; review "
                                        "the overdue complaints."),
    "sla_compliance_rate": gettext_lazy("Review the complaints resolved late and escalate earlier."),
    "satisfaction_rate": gettext_lazy("Follow up every dissatisfied survey answer and address the most-cited "
                                      "feedback topics."),
}

UNIT_SUFFIX = {KpiUnit.PERCENT: " %", KpiUnit.HOURS: " h", KpiUnit.CNY: " CNY"}
COMPARISON_TEXT = {TargetComparison.GTE: "≥", TargetComparison.GT: ">", TargetComparison.LTE: "≤",
                   TargetComparison.LT: "<"}


def _number(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "-"
    places = 0 if unit in (KpiUnit.CNY, KpiUnit.COUNT) else 2
    return f"{value:,.{places}f}{UNIT_SUFFIX.get(unit, '')}"


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _scope_label(report: Report) -> str:
    return report.branch.name if report.branch_id else _("whole bank")


def _top_cause(*, report: Report, period: Period) -> tuple[str, float] | None:
    complaints = Complaint.objects.filter(received_at__gte=period.starts_at, received_at__lt=period.ends_at)
    if report.branch_id:
        complaints = complaints.filter(branch_id=report.branch_id)
    counts = list(complaints.exclude(root_cause="").values("root_cause").annotate(n=Count("id")).order_by("-n",
                                                                                                         "root_cause"))
    total = sum(row["n"] for row in counts)
    if not total:
        return None
    top = counts[0]
    return str(RootCause(top["root_cause"]).label), round(100 * top["n"] / total, 1)


def report_content(*, report: Report, period: Period) -> dict:
    """The report's text and figures, in its language, from the period's snapshots."""
    with translation.override(report.language):
        scope = (selectors.KpiScope(ScopeKind.BRANCH, branch_id=report.branch_id) if report.branch_id
                 else selectors.KpiScope(ScopeKind.BANK))
        codes = REPORT_KPIS[ReportKind(report.kind)]
        tiles = selectors.kpi_tiles(scope=scope, period=period, kpi_codes=codes)
        rows, conclusions, recommendations, series = [], [], [], {}
        for tile in tiles:
            unit = tile.kpi.unit
            target = tile.target
            rows.append({
                "code": tile.kpi.code, "name": tile.kpi.label, "unit": unit, "unit_label": str(KpiUnit(unit).label),
                "value": _float(tile.value), "numerator": _float(tile.numerator),
                "denominator": _float(tile.denominator),
                "target": _float(target.value) if target else None,
                "comparison": COMPARISON_TEXT[target.comparison] if target else "",
                "rag": tile.rag, "rag_label": str(Rag(tile.rag).label),
                "previous": _float(tile.previous_value), "last_year": _float(tile.last_year_value),
                "text": _number(tile.value, unit),
            })
            series[tile.kpi.code] = [[label, _float(value)] for label, value in tile.series]
            if target is not None and tile.value is not None:
                met = target.is_met_by(tile.value)
                target_text = f"{COMPARISON_TEXT[target.comparison]} {_number(target.value, unit)}"
                template = _("%(kpi)s %(value)s, meeting the %(target)s target.") if met else _(
                    "%(kpi)s %(value)s, missing the %(target)s target.")
                sentence = template % {"kpi": tile.kpi.label, "value": _number(tile.value, unit),
                                       "target": target_text}
                if tile.kpi.code == "complaint_rate" and (cause := _top_cause(report=report, period=period)):
                    sentence += " " + _("Top cause: %(cause)s, %(share)s %%.") % {"cause": cause[0],
                                                                                  "share": cause[1]}
                conclusions.append(sentence)
            change = tile.change_vs_previous
            if change is not None and tile.previous_value and abs(change) * 100 > abs(
                    tile.previous_value) * TREND_NOTABLE_PCT:
                template = _("%(kpi)s rose from %(before)s to %(after)s against the previous period.") if change > 0 \
                    else _("%(kpi)s fell from %(before)s to %(after)s against the previous period.")
                conclusions.append(template % {"kpi": tile.kpi.label, "before": _number(tile.previous_value, unit),
                                               "after": _number(tile.value, unit)})
            if tile.rag in (Rag.RED, Rag.AMBER) and tile.kpi.code in RECOMMENDATIONS:
                text = str(RECOMMENDATIONS[tile.kpi.code])
                if text not in recommendations:
                    recommendations.append(text)
        if not recommendations:
            recommendations.append(_("Every KPI with a target is on target: keep the current measures."))
        if not conclusions:
            conclusions.append(_("No KPI with a target has a figure for this period."))
        data_as_of = max((tile.data_as_of for tile in tiles if tile.data_as_of), default=timezone.now())
        return {
            "title": _("%(kind)s %(period)s, %(scope)s") % {
                "kind": ReportKind(report.kind).label, "period": period.label, "scope": _scope_label(report)},
            "kind": report.kind, "period": period.label, "scope": _scope_label(report),
            "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
            "data_as_of": timezone.localtime(data_as_of).isoformat(timespec="seconds"),
            "data_sources": [
                _("Customers, holdings, transactions and interactions (customer information, core banking)."),
                _("Classification and tiers, with customer lifetime value (segmentation)."),
                _("Complaints with their SLA clocks (complaint handling)."),
                _("Survey answers: satisfaction, CSAT, NPS and dimension scores (customer voice)."),
            ],
            "method": [
                _("Each KPI is computed in SQL from one documented formula over the period in Asia/Shanghai time; "
                  "the definitions (numerator, denominator, exclusions) are listed in the KPI table's notes."),
                _("Targets are the version in force on the period's first day. Green: target met; amber: missed "
                  "by at most the amber band; red: missed by more."),
                _("Trend: against the previous period and the same period a year earlier."),
            ],
            "definitions": [{"name": tile.kpi.label, "numerator": tile.kpi.numerator_label,
                             "denominator": tile.kpi.denominator_label, "exclusions": tile.kpi.exclusions_label}
                            for tile in tiles],
            "kpis": rows, "series": {code: series[code] for code in CHART_KPIS[ReportKind(report.kind)]
                                     if code in series},
            "conclusions": conclusions, "recommendations": recommendations,
            "branches": _branch_rows(report=report, period=period, codes=[row["code"] for row in rows]),
            "sections": _registered_sections(report=report, period=period),
        }


def _registered_sections(*, report: Report, period: Period) -> list[dict]:
    """The sections chapters registered for this kind of report (core.reports), built for its scope and period."""
    sections = []
    for section in report_sections.report_sections_for(kind=report.kind):
        built = section.build(branch_id=report.branch_id, period_start=period.start, period_end=period.end,
                              starts_at=period.starts_at, ends_at=period.ends_at)
        if built is not None:
            sections.append({"key": section.key, **built})
    return sections


def _branch_rows(*, report: Report, period: Period, codes: list[str]) -> list[dict]:
    """For the bank's report: every branch's figures (a table of its own)."""
    if report.branch_id is not None:
        return []
    headline = [code for code in codes if code in ("retention_rate", "churn_rate", "satisfaction_rate",
                                                   "complaint_rate", "response_time_hours", "active_rate")]
    table = selectors.kpi_branch_table(period=period, kpi_codes=headline)
    return [{"branch": f"{row['branch'].code} {row['branch'].name}",
             "figures": {code: _float(snapshot.value) if snapshot else None
                         for code, snapshot in zip(headline, row["figures"], strict=True)}}
            for row in table]


# --- PDF --------------------------------------------------------------------------------------

FONT = "STSong-Light"


def _register_font() -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _chart(title: str, points: list[list]):
    from reportlab.graphics.charts.linecharts import HorizontalLineChart
    from reportlab.graphics.shapes import Drawing, String

    drawing = Drawing(480, 150)
    drawing.add(String(0, 138, title, fontName=FONT, fontSize=10))
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 20, 420, 105
    values = [value if value is not None else 0 for _label, value in points]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [label[-5:] for label, _value in points]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    chart.lines[0].strokeWidth = 1.5
    drawing.add(chart)
    return drawing


def report_pdf(*, report: Report, content: dict) -> bytes:
    """A4 PDF: title, sources, method, KPI table against targets, charts, conclusions, recommendations."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    _register_font()
    with translation.override(report.language):
        body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14, wordWrap="CJK")
        heading = ParagraphStyle("heading", parent=body, fontSize=12, leading=18, spaceBefore=8, spaceAfter=4)
        title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, spaceAfter=6)
        buffer = io.BytesIO()
        document = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=16 * mm, rightMargin=16 * mm,
                                     topMargin=16 * mm, bottomMargin=16 * mm, title=content["title"],
                                     author=_("Bank branch CRM"))
        story = [Paragraph(content["title"], title),
                 Paragraph(_("Period: %(start)s to %(end)s. Data as of %(as_of)s.") % {
                     "start": content["period_start"], "end": content["period_end"],
                     "as_of": content["data_as_of"]}, body)]
        story += [Paragraph(_("Data sources"), heading), *[Paragraph(f"• {line}", body)
                                                          for line in content["data_sources"]]]
        story += [Paragraph(_("Method"), heading), *[Paragraph(f"• {line}", body) for line in content["method"]]]
        story.append(Paragraph(_("KPIs against targets"), heading))
        header = [_("KPI"), _("Value"), _("Target"), _("Status"), _("Previous period"), _("Same period last year")]
        table_rows = [header]
        for row in content["kpis"]:
            table_rows.append([
                Paragraph(row["name"], body), row["text"],
                f"{row['comparison']} {_number(_decimal(row['target']), row['unit'])}" if row["target"] is not None
                else "-",
                row["rag_label"], _number(_decimal(row["previous"]), row["unit"]),
                _number(_decimal(row["last_year"]), row["unit"]),
            ])
        rag_colours = {Rag.GREEN: colors.HexColor("#d1e7dd"), Rag.AMBER: colors.HexColor("#fff3cd"),
                       Rag.RED: colors.HexColor("#f8d7da")}
        style = [("FONT", (0, 0), (-1, -1), FONT, 8.5), ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e9ecef")), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
        for index, row in enumerate(content["kpis"], start=1):
            if row["rag"] in rag_colours:
                style.append(("BACKGROUND", (3, index), (3, index), rag_colours[row["rag"]]))
        kpi_table = Table(table_rows, colWidths=[52 * mm, 26 * mm, 26 * mm, 20 * mm, 24 * mm, 26 * mm], repeatRows=1)
        kpi_table.setStyle(TableStyle(style))
        story.append(kpi_table)
        if content["branches"]:
            story.append(Paragraph(_("Branches"), heading))
            codes = list(content["branches"][0]["figures"].keys())
            names = {row["code"]: row["name"] for row in content["kpis"]}
            branch_rows = [[_("Branch"), *[Paragraph(names.get(code, code), body) for code in codes]]]
            for row in content["branches"]:
                branch_rows.append([Paragraph(row["branch"], body), *[
                    "-" if row["figures"][code] is None else f"{row['figures'][code]:,.2f}" for code in codes]])
            branch_table = Table(branch_rows, repeatRows=1)
            branch_table.setStyle(TableStyle(style[:3]))
            story.append(branch_table)
        for section in content.get("sections", []):
            story += _section_flowables(section, heading=heading, body=body, table_style=style[:3])
        story.append(Paragraph(_("Charts"), heading))
        names = {row["code"]: row["name"] for row in content["kpis"]}
        for code, points in content["series"].items():
            story += [_chart(names.get(code, code), points), Spacer(1, 4)]
        story += [Paragraph(_("Conclusions"), heading), *[Paragraph(f"• {line}", body)
                                                         for line in content["conclusions"]]]
        story += [Paragraph(_("Recommended actions"), heading), *[Paragraph(f"• {line}", body)
                                                             for line in content["recommendations"]]]
        document.build(story)
        return buffer.getvalue()


def _cell_text(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def _section_flowables(section: dict, *, heading, body, table_style: list) -> list:
    """A registered section in the PDF: its heading, paragraphs and tables (numbers with two decimals)."""
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Spacer, Table, TableStyle

    small = ParagraphStyle("section-cell", parent=body, fontSize=7.5, leading=10)
    flowables = [Paragraph(section["title"], heading), *[Paragraph(line, body) for line in section["paragraphs"]]]
    for table in section["tables"]:
        flowables += [Spacer(1, 4), Paragraph(table["title"], body)]
        if not table["rows"]:
            flowables.append(Paragraph("-", body))
            continue
        cells = [[Paragraph(str(title), small) for title in table["columns"]]]
        cells += [[Paragraph(_cell_text(value), small) for value in row] for row in table["rows"]]
        rendered = Table(cells, repeatRows=1)
        rendered.setStyle(TableStyle(table_style))
        flowables.append(rendered)
    return flowables


def _decimal(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# --- XLSX -------------------------------------------------------------------------------------


def report_xlsx(*, report: Report, content: dict) -> bytes:
    """One sheet per table (KPIs, branches, series, conclusions); figures are numbers, not text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    with translation.override(report.language):
        workbook = Workbook()
        sheet = workbook.active
        sheet.title = _("KPIs")[:31]
        sheet.append([content["title"]])
        sheet.append([_("Data as of"), content["data_as_of"]])
        sheet.append([])
        sheet.append([_("Code"), _("KPI"), _("Unit"), _("Value"), _("Comparison"), _("Target"), _("Status"),
                      _("Numerator"), _("Denominator"), _("Previous period"), _("Same period last year")])
        for cell in sheet[4]:
            cell.font = Font(bold=True)
        for row in content["kpis"]:
            sheet.append([row["code"], row["name"], row["unit_label"], row["value"], row["comparison"], row["target"],
                          row["rag_label"], row["numerator"], row["denominator"], row["previous"], row["last_year"]])
        sheet.column_dimensions["B"].width = 30
        if content["branches"]:
            branches = workbook.create_sheet(_("Branches")[:31])
            codes = list(content["branches"][0]["figures"].keys())
            branches.append([_("Branch"), *codes])
            for row in content["branches"]:
                branches.append([row["branch"], *[row["figures"][code] for code in codes]])
        trend = workbook.create_sheet(_("Trend")[:31])
        codes = list(content["series"].keys())
        trend.append([_("Period"), *codes])
        if codes:
            for index, (label, _value) in enumerate(content["series"][codes[0]]):
                trend.append([label, *[content["series"][code][index][1] for code in codes]])
        for section in content.get("sections", []):
            for table in section["tables"]:
                sheet = workbook.create_sheet(_sheet_title(workbook, table["title"]))
                sheet.append([section["title"]])
                sheet.cell(row=1, column=1).font = Font(bold=True)
                sheet.append(list(table["columns"]))
                for cell in sheet[2]:
                    cell.font = Font(bold=True)
                for row in table["rows"]:
                    sheet.append(list(row))
        notes = workbook.create_sheet(_("Conclusions")[:31])
        for title, lines in ((_("Data sources"), content["data_sources"]), (_("Method"), content["method"]),
                             (_("Conclusions"), content["conclusions"]),
                             (_("Recommended actions"), content["recommendations"])):
            notes.append([title])
            notes.cell(row=notes.max_row, column=1).font = Font(bold=True)
            for line in lines:
                notes.append([line])
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()


def _sheet_title(workbook, title: str) -> str:
    """A sheet name Excel accepts: at most 31 characters, none of []:*?/\\, unique in the workbook."""
    cleaned = "".join(" " if char in "[]:*?/\\" else char for char in title)[:31] or "Sheet"
    candidate, number = cleaned, 2
    while candidate in workbook.sheetnames:
        suffix = f" ({number})"
        candidate, number = cleaned[:31 - len(suffix)] + suffix, number + 1
    return candidate


def branch_name(branch_id: int | None) -> str:
    return Branch.objects.get(pk=branch_id).name if branch_id else _("whole bank")
