"""The home dashboard's tile registry: chapters register tiles from ``AppConfig.ready()``.

``context(*, request)`` returns the tile's template context, or None when the signed-in user
must not see the tile (wrong role, nothing to show). The evaluation app draws them on ``/``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.registry import Registry

DASHBOARD_TILES = Registry("dashboard")


def dashboard_tile_register(*, key: str, order: int, template: str,
                            context: Callable[..., dict[str, Any] | None]) -> None:
    DASHBOARD_TILES.register(key=key, order=order, template=template, context=context)


def dashboard_tiles_for(*, request) -> list[tuple[str, dict[str, Any]]]:
    """The (template, context) of every tile the request's user may see, in order."""
    tiles = []
    for entry in DASHBOARD_TILES:
        tile_context = entry.context(request=request) if entry.context else {}
        if tile_context is not None:
            tiles.append((entry.template, {"request": request, **tile_context}))
    return tiles
