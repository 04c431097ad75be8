"""Extension points that run against the layers: a lower app owns a registry, higher apps fill it.

The customer 360 page, the top menu and the home dashboard are drawn by lower apps, while their
panels, menu entries and tiles belong to the chapters above them. Each higher app registers its
entries from ``AppConfig.ready()`` (as Wagtail hooks do), so no lower module or template names a
higher app.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    key: str
    order: int
    template: str
    context: Callable[..., dict[str, Any] | None] | None = None


class Registry:
    """Entries kept in ``order`` (then key); registering a key again replaces it (reloads, tests)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._entries: dict[str, Entry] = {}

    def register(self, *, key: str, order: int, template: str,
                 context: Callable[..., dict[str, Any] | None] | None = None) -> Entry:
        entry = Entry(key=key, order=order, template=template, context=context)
        self._entries[key] = entry
        return entry

    def unregister(self, key: str) -> None:
        self._entries.pop(key, None)

    def __iter__(self) -> Iterator[Entry]:
        return iter(sorted(self._entries.values(), key=lambda entry: (entry.order, entry.key)))

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def keys(self) -> list[str]:
        return [entry.key for entry in self]
