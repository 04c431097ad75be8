"""The working-day calendar: Monday to Friday, minus public holidays, plus the weekend days
China moves work onto (调休). The exceptions live in ``core.CalendarDay`` (admin-maintained,
importable from CSV); every working-day computation in the project goes through here.

CSV format (UTF-8, header row)::

    date,kind,name
    2026-10-01,holiday,国庆节
    2026-10-10,workday,国庆节调休

``kind`` is ``holiday`` (or 休) or ``workday`` (or 班). Importing a file replaces every
exception of the years it names, so a corrected file for a year is the whole fix.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.utils.translation import gettext as _

from core.audit import audit_record
from core.errors import ApplicationError
from core.models import CalendarDay

# Saturday and Sunday (date.weekday()).
WEEKEND = (5, 6)
KIND_ALIASES = {
    "holiday": CalendarDay.Kind.HOLIDAY, "休": CalendarDay.Kind.HOLIDAY,
    "workday": CalendarDay.Kind.WORKDAY, "班": CalendarDay.Kind.WORKDAY,
}
# Generous: the longest run of consecutive non-working days in China is 9 (Spring Festival).
_LOOKAHEAD_FACTOR = 2
_LOOKAHEAD_SLACK = 21
MAX_IMPORT_ROWS = 2000


def _exceptions(start: date, end: date) -> dict[date, str]:
    """The calendar's exceptions between ``start`` and ``end`` (inclusive, any order)."""
    low, high = min(start, end), max(start, end)
    return dict(CalendarDay.objects.filter(day__range=(low, high)).values_list("day", "kind"))


def _is_working(day: date, exceptions: dict[date, str]) -> bool:
    kind = exceptions.get(day)
    if kind is not None:
        return kind == CalendarDay.Kind.WORKDAY
    return day.weekday() not in WEEKEND


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day: a weekday that is no holiday, or a weekend day worked."""
    return _is_working(d, _exceptions(d, d))


def working_days_add(start: date, n: int) -> date:
    """The ``n``-th working day after ``start`` (before it when ``n`` is negative); ``start`` itself when 0.

    ``start`` need not be a working day: a Saturday plus 1 is the next working day.
    """
    if n == 0:
        return start
    step = 1 if n > 0 else -1
    remaining = abs(n)
    day = start
    while True:
        horizon = day + timedelta(days=step * (remaining * _LOOKAHEAD_FACTOR + _LOOKAHEAD_SLACK))
        exceptions = _exceptions(day + timedelta(days=step), horizon)
        while day != horizon:
            day += timedelta(days=step)
            if _is_working(day, exceptions):
                remaining -= 1
                if remaining == 0:
                    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days lie in ``start``..``end``, both included (0 when ``end`` < ``start``)."""
    if end < start:
        return 0
    exceptions = _exceptions(start, end)
    total = 0
    day = start
    while day <= end:
        total += _is_working(day, exceptions)
        day += timedelta(days=1)
    return total


def working_day_sql(day_expr: str) -> str:
    """A SQL boolean for "the date ``day_expr`` is a working day", for set-based queries.

    ``day_expr`` is trusted SQL (a table-qualified column or an expression), never user input;
    an unqualified column named ``day`` would bind to the calendar table's own column.
    """
    table = CalendarDay._meta.db_table
    workday = CalendarDay.Kind.WORKDAY
    return (  # table name is ours and day_expr trusted
        f"COALESCE((SELECT core_wd.kind = '{workday}' FROM {table} core_wd WHERE core_wd.day = ({day_expr})::date),"  # noqa: S608
        f" extract(isodow FROM ({day_expr})::date) < 6)"
    )


# --- Maintenance (admin page, CSV import) --------------------------------------------------


@dataclass(frozen=True)
class CalendarImportResult:
    years: tuple[int, ...]
    holidays: int
    workdays: int


def _parse_rows(text: str) -> list[tuple[date, str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if not reader.fieldnames or not {"date", "kind"} <= {f.strip().lower() for f in reader.fieldnames}:
        raise ApplicationError.invalid(_("The file needs a header row with the columns date, kind and name."),
                                       field="file")
    rows: list[tuple[date, str, str]] = []
    errors: list[str] = []
    seen: set[date] = set()
    for line_no, raw in enumerate(reader, start=2):
        record = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        if not any(record.values()):
            continue
        try:
            day = date.fromisoformat(record.get("date", ""))
        except ValueError:
            errors.append(_("line %(line)d: the date must be YYYY-MM-DD") % {"line": line_no})
            continue
        kind = KIND_ALIASES.get(record.get("kind", "").lower())
        if kind is None:
            errors.append(_("line %(line)d: the kind must be holiday or workday") % {"line": line_no})
            continue
        if kind == CalendarDay.Kind.WORKDAY and day.weekday() not in WEEKEND:
            errors.append(_("line %(line)d: %(date)s is a weekday; only a Saturday or Sunday can be a "
                            "working weekend day") % {"line": line_no, "date": day.isoformat()})
            continue
        if day in seen:
            errors.append(_("line %(line)d: %(date)s appears twice") % {"line": line_no, "date": day.isoformat()})
            continue
        seen.add(day)
        rows.append((day, kind, record.get("name", "")[:100]))
        if len(rows) > MAX_IMPORT_ROWS:
            raise ApplicationError.invalid(_("The file has too many rows."), field="file")
    if errors:
        raise ApplicationError.invalid("; ".join(errors[:10]), field="file")
    if not rows:
        raise ApplicationError.invalid(_("The file has no rows."), field="file")
    return rows


@transaction.atomic
def calendar_import_csv(*, text: str, by) -> CalendarImportResult:
    """Replace the exceptions of every year the CSV names with its rows; all or nothing, audited."""
    rows = _parse_rows(text)
    years = tuple(sorted({day.year for day, _kind, _name in rows}))
    for year in years:
        CalendarDay.objects.filter(day__year=year).delete()
    CalendarDay.objects.bulk_create(CalendarDay(day=day, kind=kind, name=name) for day, kind, name in rows)
    result = CalendarImportResult(
        years=years,
        holidays=sum(kind == CalendarDay.Kind.HOLIDAY for _d, kind, _n in rows),
        workdays=sum(kind == CalendarDay.Kind.WORKDAY for _d, kind, _n in rows),
    )
    audit_record(actor=by, action="calendar.import",
                 detail={"years": list(years), "holidays": result.holidays, "workdays": result.workdays})
    return result


@transaction.atomic
def calendar_day_save(*, calendar_day: CalendarDay, by) -> CalendarDay:
    """Save one exception (admin), audited."""
    calendar_day.full_clean()
    calendar_day.save()
    audit_record(actor=by, action="calendar.day_saved", target=calendar_day,
                 detail={"day": calendar_day.day.isoformat(), "kind": calendar_day.kind})
    return calendar_day


@transaction.atomic
def calendar_day_delete(*, calendar_day: CalendarDay, by) -> None:
    """Remove one exception (admin), audited."""
    detail = {"day": calendar_day.day.isoformat(), "kind": calendar_day.kind}
    audit_record(actor=by, action="calendar.day_deleted", target=calendar_day, detail=detail)
    calendar_day.delete()
