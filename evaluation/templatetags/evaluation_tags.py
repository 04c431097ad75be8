"""Template filters for KPI figures."""

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()

_SUFFIX = {"percent": " %", "hours": " h"}


@register.filter
def kpi_value(value: Decimal | None, unit: str) -> str:
    """A KPI figure with its unit: 80.50 %, 16.0 h, ¥533,667; a dash when there is none."""
    if value is None:
        return "\u2013"
    if unit == "cny":
        return f"¥{value:,.0f}"
    if unit == "count":
        return f"{value:,.1f}"
    return f"{value:,.2f}{_SUFFIX.get(unit, '')}"


@register.filter
def kpi_change(value: Decimal | None, unit: str) -> str:
    if value is None:
        return "\u2013"
    sign = "+" if value > 0 else ""
    suffix = " pp" if unit == "percent" else _SUFFIX.get(unit, "")
    return f"{sign}{value:,.2f}{suffix}"


@register.filter
def rag_class(rag: str) -> str:
    return {"green": "success", "amber": "warning", "red": "danger"}.get(rag, "secondary")


@register.filter
def rag_label(rag: str) -> str:
    return {"green": _("on target"), "amber": _("near target"), "red": _("off target")}.get(rag, _("no target"))
