"""Template helpers for accounts pages: delegation status badges and whole minutes."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms, template
from django.forms import BoundField
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.models import Delegation, DelegationStatus

register = template.Library()

_BADGE_CLASSES = {
    DelegationStatus.ACTIVE: "text-bg-success",
    DelegationStatus.SCHEDULED: "text-bg-info",
    DelegationStatus.EXPIRED: "text-bg-secondary",
    DelegationStatus.REVOKED: "text-bg-dark",
}


@register.simple_tag
def delegation_status_badge(delegation: Delegation, on: date | None = None) -> SafeString:
    """Render the delegation's status on ``on`` (default today) as a coloured badge."""
    status = delegation.status_on(on or timezone.localdate())
    return format_html(
        '<span class="badge {}" data-status="{}">{}</span>',
        _BADGE_CLASSES[status], status.value, status.label,
    )


@register.filter
def whole_minutes(duration: timedelta | None) -> int | None:
    """A timedelta as whole minutes, for sentences such as "try again in 30 minutes"."""
    if duration is None:
        return None
    return int(duration.total_seconds() // 60)


@register.filter
def bootstrap_widget(bound_field: BoundField) -> SafeString:
    """Render a form field's widget with Bootstrap classes, marked invalid and tied to its errors."""
    widget = bound_field.field.widget
    css_class = "form-select" if isinstance(widget, forms.Select) else "form-control"
    attrs = {"class": css_class}
    if bound_field.errors:
        attrs["class"] += " is-invalid"
        described_by = [f"{bound_field.auto_id}_error"]
        if bound_field.help_text:
            described_by.append(f"{bound_field.auto_id}_helptext")
        attrs["aria-describedby"] = " ".join(described_by)
    return bound_field.as_widget(attrs=attrs)
