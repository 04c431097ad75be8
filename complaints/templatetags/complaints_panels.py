"""The complaints panel on the customer 360 page (customers' template loads it; Python imports stay downward)."""

from django import template

register = template.Library()


@register.inclusion_tag("complaints/partials/customer_panel.html", takes_context=True)
def complaints_customer_panel(context, customer):
    return {}
