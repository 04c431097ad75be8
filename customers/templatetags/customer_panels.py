"""``{% customer_panels customer %}``: draw the panels other chapters registered for the 360 page."""

from __future__ import annotations

from django import template
from django.template.loader import get_template
from django.utils.safestring import SafeString, mark_safe

from customers import panels

register = template.Library()


@register.simple_tag(takes_context=True)
def customer_panels(context, customer) -> SafeString:
    request = context.get("request")
    shared = {"csrf_token": context.get("csrf_token"), "perms_crm": context.get("perms_crm", {})}
    html = [
        get_template(template_name).render({**shared, **panel_context})
        for template_name, panel_context in panels.customer_panels_for(request=request, customer=customer)
    ]
    return mark_safe("\n".join(html))  # noqa: S308 - each part is a rendered, auto-escaped template
