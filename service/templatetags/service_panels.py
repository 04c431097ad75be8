"""The service panel on the customer 360 page (customers' template loads it; Python imports stay downward)."""

from django import template

register = template.Library()


@register.inclusion_tag("service/partials/customer_panel.html", takes_context=True)
def service_customer_panel(context, customer):
    return {}
