"""Factories for complaints. ComplaintFactory goes through the service, so deadlines and the
first event are exactly what production writes."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from accounts.models import Branch
from complaints import services
from complaints.models import Complaint, ComplaintCategory, ComplaintChannel, ComplaintSeverity
from customers.models import Customer


def category(code: str = "B0302") -> ComplaintCategory:
    """A category seeded by migration 0002 (B0302: credit cards)."""
    return ComplaintCategory.objects.get(code=code)


def make_complaint(
    *,
    branch: Branch | None = None,
    customer: Customer | None = None,
    received_at: datetime | None = None,
    category_code: str = "B0302",
    severity: str = ComplaintSeverity.MEDIUM,
    channel: str = ComplaintChannel.BRANCH,
    contact_name: str = "",
    contact_phone: str = "",
    by=None,
    now: datetime | None = None,
) -> Complaint:
    if customer is None and not contact_name:
        contact_name, contact_phone = "张伟", contact_phone or "13800001234"
    branch = branch or (customer.branch if customer else None)
    received_at = received_at or timezone.now()
    return services.complaint_create(
        by=by, branch=branch, customer=customer, contact_name=contact_name, contact_phone=contact_phone,
        channel=channel, category=category(category_code), severity=severity,
        description="ATM 吞卡后三天未退回", received_at=received_at, now=now or received_at,
    )
