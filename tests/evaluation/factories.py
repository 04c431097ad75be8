"""Helpers for evaluation tests: hand-made data with known answers, local (Asia/Shanghai) times."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from evaluation import services
from evaluation.models import PeriodKind
from evaluation.periods import Period

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(PeriodKind.MONTH, date(2026, 11, 1))


def local(*args) -> datetime:
    """An aware datetime in the bank's time zone: local(2026, 11, 30, 23, 59)."""
    return datetime(*args, tzinfo=SHANGHAI)


def compute(period: Period = NOVEMBER, codes: list[str] | None = None) -> int:
    return services.kpi_snapshots_compute(period=period, kpi_codes=codes)
