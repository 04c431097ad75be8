"""Template helpers of the lifecycle chapter: the viewer's lifecycle permissions for menus."""

from django import template

from lifecycle import permissions

register = template.Library()


@register.simple_tag(takes_context=True)
def lifecycle_perms(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "overview": permissions.can_view_lifecycle_overview(user),
        "at_risk": permissions.can_view_at_risk(user),
        "models": permissions.can_view_churn_models(user),
    }
