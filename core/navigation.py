"""The top menu's registry: each chapter registers its menu entries (a template) from ``AppConfig.ready()``.

The template renders ``<li class="nav-item">…</li>``, or nothing for a role that must not see it;
it gets the page's context (``request``, ``perms_crm``).
"""

from __future__ import annotations

from core.registry import Registry

NAV_ITEMS = Registry("nav")


def nav_item_register(*, key: str, order: int, template: str) -> None:
    NAV_ITEMS.register(key=key, order=order, template=template)


def nav_item_templates() -> list[str]:
    return [entry.template for entry in NAV_ITEMS]
