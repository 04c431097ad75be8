"""Reporting periods (month, quarter, year) and their boundaries in the bank's time zone.

A period runs from 00:00 of its first day to 00:00 of the next period's first day, local time
(settings.TIME_ZONE, Asia/Shanghai): a transaction at 23:59:59 on 30 November Beijing time is
November's, even though it is 15:59:59 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from evaluation.models import PeriodKind

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER_RE = re.compile(r"^(\d{4})-?Q([1-4])$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(\d{4})$")
MONTHS_IN = {PeriodKind.MONTH: 1, PeriodKind.QUARTER: 3, PeriodKind.YEAR: 12}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str
    start: date

    def __post_init__(self) -> None:
        if self.kind not in MONTHS_IN:
            raise ValueError(f"unknown period kind {self.kind!r}")
        if self.start != period_start_for(self.kind, self.start):
            raise ValueError(f"{self.start} does not start a {self.kind}")

    @property
    def next_start(self) -> date:
        return _add_months(self.start, MONTHS_IN[self.kind])

    @property
    def end(self) -> date:
        """The last day of the period (inclusive)."""
        return self.next_start - timedelta(days=1)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=timezone.get_default_timezone())

    @property
    def ends_at(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return datetime.combine(self.next_start, time.min, tzinfo=timezone.get_default_timezone())

    def previous(self) -> Period:
        return Period(self.kind, _add_months(self.start, -MONTHS_IN[self.kind]))

    def same_period_last_year(self) -> Period:
        return Period(self.kind, _add_months(self.start, -12))

    def shifted(self, steps: int) -> Period:
        return Period(self.kind, _add_months(self.start, steps * MONTHS_IN[self.kind]))

    @property
    def label(self) -> str:
        if self.kind == PeriodKind.MONTH:
            return f"{self.start:%Y-%m}"
        if self.kind == PeriodKind.QUARTER:
            return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    def __str__(self) -> str:
        return self.label


def period_start_for(kind: str, day: date) -> date:
    """The first day of the ``kind`` period that contains ``day``."""
    if kind == PeriodKind.MONTH:
        return date(day.year, day.month, 1)
    if kind == PeriodKind.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if kind == PeriodKind.YEAR:
        return date(day.year, 1, 1)
    raise ValueError(f"unknown period kind {kind!r}")


def period_containing(kind: str, moment: date | datetime) -> Period:
    """The period holding a local date, or an aware datetime read in the bank's time zone."""
    if isinstance(moment, datetime):
        moment = timezone.localtime(moment, timezone.get_default_timezone()).date()
    return Period(kind, period_start_for(kind, moment))


def period_parse(text: str) -> Period:
    """Parse "2026-11" (month), "2026-Q4" or "2026Q4" (quarter) or "2026" (year); ValueError otherwise."""
    text = (text or "").strip()
    if match := _MONTH_RE.match(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise ValueError(f"bad month in {text!r}")
        return Period(PeriodKind.MONTH, date(year, month, 1))
    if match := _QUARTER_RE.match(text):
        return Period(PeriodKind.QUARTER, date(int(match[1]), (int(match[2]) - 1) * 3 + 1, 1))
    if match := _YEAR_RE.match(text):
        return Period(PeriodKind.YEAR, date(int(match[1]), 1, 1))
    raise ValueError(f"not a period: {text!r} (use 2026-11, 2026-Q4 or 2026)")


def last_complete_period(kind: str, *, now: datetime | None = None) -> Period:
    """The latest period of ``kind`` that has ended by ``now`` (local time)."""
    return period_containing(kind, now or timezone.now()).previous()


def periods_around(period: Period) -> list[Period]:
    """A month's own quarter and year, a quarter's year: what a change in the month touches."""
    day = period.start
    return [Period(kind, period_start_for(kind, day)) for kind in (PeriodKind.MONTH, PeriodKind.QUARTER,
                                                                    PeriodKind.YEAR)
            if MONTHS_IN[kind] >= MONTHS_IN[period.kind]]
