"""The periodic reports' section registry: evaluation draws the reports, chapters add sections to them.

Evaluation sits above every chapter, so a chapter cannot import it; like the dashboard tiles
(``core.dashboard``), a chapter registers a section builder here from ``AppConfig.ready()`` and
evaluation's reports call every builder registered for the report's kind.

A builder is called with keyword arguments ``branch_id`` (None: the whole bank), ``period_start``
and ``period_end`` (dates, the period's first and last day) and ``starts_at`` / ``ends_at`` (aware
datetimes, [start, end) in the bank's time zone), under the report's language. It returns the
section as JSON-ready data, stored with the report so a re-rendering never reads live data again::

    {"title": str, "paragraphs": [str, ...],
     "tables": [{"title": str, "columns": [str, ...], "rows": [[str | int | float | None, ...], ...]}]}

Numbers stay numbers (the XLSX writes them as such; the PDF formats them), or None when there is
nothing to show. A builder returns None to leave its section out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReportSection:
    key: str
    order: int
    kinds: frozenset[str]
    build: Callable[..., dict[str, Any] | None]


REPORT_SECTIONS: dict[str, ReportSection] = {}


def report_section_register(*, key: str, order: int, kinds: Iterable[str],
                            build: Callable[..., dict[str, Any] | None]) -> None:
    """Add (or replace, by key) a section of the reports of the given kinds ("monthly", "quarterly", "annual")."""
    REPORT_SECTIONS[key] = ReportSection(key=key, order=order, kinds=frozenset(kinds), build=build)


def report_sections_for(*, kind: str) -> list[ReportSection]:
    """The sections registered for a report kind, in order (then key)."""
    return sorted((section for section in REPORT_SECTIONS.values() if kind in section.kinds),
                  key=lambda section: (section.order, section.key))
