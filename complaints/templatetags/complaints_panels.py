"""Complaint template helpers: SLA and status badges, and the complaints panel on the customer 360 page.

The panel is registered into customers.panels from apps.py; customers never names complaints.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from accounts import permissions
from complaints import selectors
from complaints.models import Complaint, ComplaintStatus, SlaState

register = template.Library()

PANEL_ROWS = 10

_SLA_CLASSES = {
    SlaState.ON_TRACK: "text-bg-success",
    SlaState.WARNING: "text-bg-warning",
    SlaState.CRITICAL: "text-bg-warning border border-2 border-danger",
    SlaState.OVERDUE: "text-bg-danger",
    SlaState.MET: "text-bg-light border",
    SlaState.MISSED: "text-bg-secondary",
}
_STATUS_CLASSES = {
    ComplaintStatus.RECEIVED: "text-bg-info",
    ComplaintStatus.ACKNOWLEDGED: "text-bg-primary",
    ComplaintStatus.INVESTIGATING: "text-bg-primary",
    ComplaintStatus.ESCALATED: "text-bg-danger",
    ComplaintStatus.RESOLVED: "text-bg-success",
    ComplaintStatus.CLOSED: "text-bg-secondary",
}


def _duration(delta: timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return _("%(days)dd %(hours)dh") % {"days": days, "hours": hours}
    return _("%(hours)dh %(minutes)02dm") % {"hours": hours, "minutes": minutes}


@register.simple_tag
def complaint_sla_badge(complaint: Complaint, now: datetime | None = None) -> SafeString:
    """The running clock as a coloured badge: time left (green / amber at 75 % / orange at 90 %) or overdue."""
    now = now or timezone.now()
    state = complaint.sla_state(now=now)
    clock = complaint.running_clock()
    if clock is None:
        text = state.label
        title = ""
    else:
        name, _started_at, due_at = clock
        clock_label = _("first response") if name == "first_response" else _("resolution")
        if state == SlaState.OVERDUE:
            text = _("%(clock)s overdue by %(time)s") % {"clock": clock_label, "time": _duration(now - due_at)}
        else:
            text = _("%(clock)s: %(time)s left") % {"clock": clock_label, "time": _duration(due_at - now)}
        title = timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")
    return format_html('<span class="badge {}" data-sla="{}" title="{}">{}</span>',
                       _SLA_CLASSES[state], state.value, title, text)


@register.simple_tag
def complaint_status_badge(complaint: Complaint) -> SafeString:
    return format_html('<span class="badge {}" data-status="{}">{}</span>',
                       _STATUS_CLASSES.get(complaint.status, "text-bg-light"), complaint.status,
                       complaint.get_status_display())


def complaints_customer_panel(*, request, customer) -> dict | None:
    """The 360 panel (registered in apps.py): the customer's complaints the viewer may see."""
    user = getattr(request, "user", None)
    if user is None or not permissions.can_view_complaints(user):
        return None
    return {
        "show": True,
        "complaints": selectors.complaint_list_for_customer(user=user, customer=customer, limit=PANEL_ROWS),
        "can_handle": permissions.can_handle_complaints(user),
        "now": timezone.now(),
    }
