"""Pages without COUNT(*): previous / next only, for lists too large to count on every view.

Counting a bank's whole customer table (or one customer's transactions, 10^8 rows overall, or
a bank-wide complaint queue) on every page view costs more than the page itself.
"""

from __future__ import annotations

from django.db.models import QuerySet

MAX_PAGE_NUMBER = 100_000  # deeper pages are read as page 1 rather than overflowing OFFSET


def page_number(raw: str | None, *, max_page: int = MAX_PAGE_NUMBER) -> int:
    """The ``?page=`` value as a page number; anything malformed or out of range is page 1."""
    try:
        number = int(raw or 1)
    except ValueError:
        return 1
    return number if 1 <= number <= max_page else 1


class UncountedPage:
    """One page read with LIMIT size+1: the extra row tells whether a page follows.

    Quacks like django.core.paginator.Page for the pagination partials (``paginator`` is None).
    """

    paginator = None

    def __init__(self, queryset: QuerySet, *, number: int, per_page: int):
        offset = (number - 1) * per_page
        rows = list(queryset[offset : offset + per_page + 1])
        self.number = number
        self.object_list = rows[:per_page]
        self._has_next = len(rows) > per_page

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    def has_next(self) -> bool:
        return self._has_next

    def has_previous(self) -> bool:
        return self.number > 1

    def has_other_pages(self) -> bool:
        return self.has_next() or self.has_previous()

    def next_page_number(self) -> int:
        return self.number + 1

    def previous_page_number(self) -> int:
        return self.number - 1
