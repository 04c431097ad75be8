"""The customer 360 page's panel registry, owned by customers.

Higher chapters (segmentation, service, complaints, lifecycle, ...) register their panel from
``AppConfig.ready()``:

    panels.customer_panel_register(key="service", order=20, template="service/partials/customer_panel.html",
                                   context=service_panel_context)

``context(*, request, customer)`` gets a customer the page already fetched through the scoped
selector and returns the panel's template context, or None to leave the panel out. The page
adds ``request``, ``customer`` and ``csrf_token``. customers never names a higher app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.registry import Registry

CUSTOMER_PANELS = Registry("customer-360")


def customer_panel_register(*, key: str, order: int, template: str,
                            context: Callable[..., dict[str, Any] | None]) -> None:
    CUSTOMER_PANELS.register(key=key, order=order, template=template, context=context)


def customer_panels_for(*, request, customer) -> list[tuple[str, dict[str, Any]]]:
    """The (template, context) of each registered panel the request's user gets, in order."""
    rendered = []
    for entry in CUSTOMER_PANELS:
        panel_context = entry.context(request=request, customer=customer) if entry.context else {}
        if panel_context is not None:
            rendered.append((entry.template, {"request": request, "customer": customer, **panel_context}))
    return rendered
