"""Data-quality stewardship: assign an issue to a person, acknowledge it, waive it for a while.

Issues still open and close with the data-quality pass (a fixed defect resolves its issue on the
next pass, or at once when fixed through the edit form, customers.editing). A waiver does not
close an issue: it hides it from the working queue until ``waived_until``, with a reason, and
comes back by itself when it expires. Every step is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Now
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers import selectors
from customers.models import DataQualityIssue

AUDIT_ASSIGN = "customers.data_quality_assign"
AUDIT_ACKNOWLEDGE = "customers.data_quality_acknowledge"
AUDIT_WAIVE = "customers.data_quality_waive"
# A waiver is a decision to live with a defect for a while, not for good.
WAIVER_MAX_DAYS = 365
# Ageing buckets (days open): upper bounds, the last one open-ended.
AGEING_BUCKETS = (7, 30, 90)


def _issue_for_update(*, issue_id: int, by: User) -> DataQualityIssue:
    if not permissions.can_steward_data_quality(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    visible = selectors.data_quality_issue_list_visible_to(user=by).values("pk")
    issue = DataQualityIssue.objects.select_for_update().filter(pk=issue_id, pk__in=visible).first()
    if issue is None:
        raise ApplicationError(ErrorCode.NOT_FOUND)
    return issue


@transaction.atomic
def data_quality_issue_assign(*, issue_id: int, assignee: User | None, by: User) -> DataQualityIssue:
    """Give an open issue to a person of the customer's branch (or take it back with None)."""
    issue = _issue_for_update(issue_id=issue_id, by=by)
    if assignee is not None and (not assignee.is_active or (
            assignee.branch_id != issue.customer.branch_id and not permissions.is_admin(assignee))):
        raise ApplicationError.invalid(_("Choose an active member of the customer's branch."), field="assignee")
    issue.assigned_to = assignee
    issue.assigned_at = timezone.now() if assignee is not None else None
    issue.save(update_fields=["assigned_to", "assigned_at"])
    audit_record(actor=by, action=AUDIT_ASSIGN, target=issue,
                 detail={"customer_id": issue.customer_id, "assignee_id": assignee.pk if assignee else None})
    return issue


@transaction.atomic
def data_quality_issue_acknowledge(*, issue_id: int, by: User) -> DataQualityIssue:
    """Record that the issue has been seen and is being worked on."""
    issue = _issue_for_update(issue_id=issue_id, by=by)
    issue.acknowledged_at, issue.acknowledged_by = timezone.now(), by
    issue.save(update_fields=["acknowledged_at", "acknowledged_by"])
    audit_record(actor=by, action=AUDIT_ACKNOWLEDGE, target=issue, detail={"customer_id": issue.customer_id})
    return issue


@transaction.atomic
def data_quality_issue_waive(*, issue_id: int, reason: str, until: date, by: User) -> DataQualityIssue:
    """Accept a defect until ``until`` for a stated reason; the issue returns to the queue afterwards."""
    issue = _issue_for_update(issue_id=issue_id, by=by)
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError.invalid(_("Give the reason for the waiver."), field="reason")
    today = timezone.localdate()
    if not today < until <= today + timedelta(days=WAIVER_MAX_DAYS):
        raise ApplicationError.invalid(
            _("A waiver ends after today and within %(days)d days.") % {"days": WAIVER_MAX_DAYS}, field="until")
    issue.waived_until, issue.waiver_reason, issue.waived_by = until, reason[:300], by
    issue.save(update_fields=["waived_until", "waiver_reason", "waived_by"])
    audit_record(actor=by, action=AUDIT_WAIVE, target=issue,
                 detail={"customer_id": issue.customer_id, "until": until.isoformat(), "reason": reason[:300]})
    return issue


def waived_q(*, today: date | None = None) -> Q:
    """Open issues under a waiver that has not expired."""
    return Q(waived_until__gte=today or timezone.localdate())


@dataclass(frozen=True)
class BranchAgeing:
    branch_name: str
    buckets: tuple[int, ...]  # counts per AGEING_BUCKETS, then the older rest
    waived: int
    unassigned: int

    @property
    def total(self) -> int:
        return sum(self.buckets)


def data_quality_ageing_by_branch(*, user: User) -> list[BranchAgeing]:
    """Open issues per branch by how long they have been open (in one GROUP BY over the user's scope)."""
    issues = selectors.data_quality_issue_list_visible_to(user=user).order_by()
    not_waived = ~waived_q()
    aggregates = {}
    lower = None
    for index, upper in enumerate(AGEING_BUCKETS):
        condition = Q(opened_at__gt=Now() - timedelta(days=upper)) & not_waived
        if lower is not None:
            condition &= Q(opened_at__lte=Now() - timedelta(days=lower))
        aggregates[f"b{index}"] = Count("pk", filter=condition)
        lower = upper
    aggregates[f"b{len(AGEING_BUCKETS)}"] = Count("pk", filter=Q(opened_at__lte=Now() - timedelta(days=lower))
                                                  & not_waived)
    aggregates["waived"] = Count("pk", filter=waived_q())
    aggregates["unassigned"] = Count("pk", filter=Q(assigned_to__isnull=True) & not_waived)
    rows = issues.values("customer__branch__name").annotate(**aggregates).order_by("customer__branch__name")
    return [
        BranchAgeing(branch_name=row["customer__branch__name"],
                     buckets=tuple(row[f"b{i}"] for i in range(len(AGEING_BUCKETS) + 1)),
                     waived=row["waived"], unassigned=row["unassigned"])
        for row in rows
    ]


def data_quality_stewards_for(*, issue: DataQualityIssue) -> list[User]:
    """Who an issue may be assigned to: active staff of the customer's branch."""
    return list(User.objects.filter(is_active=True, branch_id=issue.customer.branch_id).order_by("username"))


