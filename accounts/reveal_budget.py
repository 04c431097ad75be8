"""The per-user budget on revealing PII (issue 16, finding 10: rm2 revealed 200 fields in 10.7 s).

Each reveal is already an audit row (``pii.reveal``, one per field); the budget counts a user's rows
of the last hour against the ``RevealBudgetPolicy`` in force. Past it, the reveal is refused with a
clear message, the refusal is audited, and the compliance auditors and the user's branch manager get
a notification (once per user and hour): the classic insider exfiltration pattern.

``reveal_budget_check`` runs in its own transaction before the reveal's (customers.services), so the
refusal's audit row and notifications are committed although the reveal is not. Two reveals racing
at the edge may both pass; the overshoot is bounded by the number of requests served at once.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import RevealBudgetPolicy, Role, User
from core import notifications
from core.audit import AuditAction, audit_record
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent

WINDOW = timedelta(hours=1)
AUDIT_REVEAL_REFUSED = "pii.reveal_refused"
NOTIFICATION_KIND = "accounts.reveal_budget_exceeded"


def notification_kinds_register() -> None:
    """Called from AccountsConfig.ready()."""
    notifications.notification_kind_register(
        kind=NOTIFICATION_KIND,
        message=gettext_lazy("Staff member %(username)s passed the reveal limit (%(limit)s personal-data fields "
                             "an hour) and was refused further reveals. Check the audit log for what they revealed."),
    )


def reveal_budget_policy_at(*, at=None) -> RevealBudgetPolicy | None:
    at = at or timezone.now()
    return RevealBudgetPolicy.objects.filter(effective_from__lte=at).order_by("-version").first()


def reveals_in_window(*, user: User, now=None) -> int:
    now = now or timezone.now()
    return AuditEvent.objects.filter(actor_id=user.pk, action=AuditAction.PII_REVEAL,
                                     occurred_at__gt=now - WINDOW).count()


def reveal_budget_check(*, user: User, fields: int = 1) -> None:
    """Raise PERMISSION_DENIED when revealing ``fields`` more would pass ``user``'s hourly budget.

    Call outside the reveal's own transaction: the refusal (audit row, notifications) is committed here.
    """
    now = timezone.now()
    policy = reveal_budget_policy_at(at=now)
    if policy is None:
        return
    used = reveals_in_window(user=user, now=now)
    if used + fields <= policy.reveals_per_hour:
        return
    with transaction.atomic():
        _refusal_record(user=user, policy=policy, used=used, now=now)
    raise ApplicationError(ErrorCode.PERMISSION_DENIED, _(
        "You have revealed %(used)d personal-data fields in the last hour; the limit is %(limit)d. "
        "Try again later. The compliance auditor and your branch manager have been told."
    ) % {"used": used, "limit": policy.reveals_per_hour})


def _refusal_record(*, user: User, policy: RevealBudgetPolicy, used: int, now) -> None:
    hour = now.strftime("%Y%m%d%H")
    recipients = User.objects.filter(is_active=True).filter(
        _auditors_and_branch_manager(user)
    ).exclude(pk=user.pk).distinct()
    notifications.notification_send_many(
        recipients=recipients, kind=NOTIFICATION_KIND,
        params={"username": user.get_username(), "limit": policy.reveals_per_hour},
        url=f"/admin/core/auditevent/?actor_label={user.get_username()}",
        dedupe_key=f"reveal-budget:{user.pk}:{hour}",
    )
    audit_record(actor=user, action=AUDIT_REVEAL_REFUSED,
                 detail={"used": used, "limit": policy.reveals_per_hour, "policy_version": policy.version})


def _auditors_and_branch_manager(user: User) -> Q:
    auditors = Q(groups__name=Role.COMPLIANCE_AUDITOR)
    if user.branch_id is None:
        return auditors
    return auditors | Q(groups__name=Role.BRANCH_MANAGER, branch_id=user.branch_id)
