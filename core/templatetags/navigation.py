"""``{% nav_item_templates as templates %}``: the menu entries chapters registered (core.navigation)."""

from django import template

from core import navigation

register = template.Library()


@register.simple_tag
def nav_item_templates() -> list[str]:
    return navigation.nav_item_templates()
