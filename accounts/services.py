"""Writes for accounts: each use case is one atomic, audited function (STYLE.md §1, §11)."""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import Delegation, DelegationReason, DelegationStatus, User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode

AUDIT_DELEGATION_CREATE = "accounts.delegation_create"
AUDIT_DELEGATION_REVOKE = "accounts.delegation_revoke"


@transaction.atomic
def delegation_create(
    *,
    delegator: User,
    delegate: User,
    starts_on: date,
    ends_on: date,
    reason: str,
    note: str = "",
    by: User,
) -> Delegation:
    """Let ``delegate`` act for ``delegator``'s customers from ``starts_on`` to ``ends_on`` inclusive."""
    if not permissions.can_create_delegation(by, delegator=delegator):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if not permissions.is_relationship_manager(delegator):
        raise ApplicationError.invalid(_("Only relationship managers can delegate their customers."))
    if delegate.pk == delegator.pk:
        raise ApplicationError.invalid(_("Choose another relationship manager as your backup."), field="delegate")
    if not permissions.is_relationship_manager(delegate):
        raise ApplicationError.invalid(_("The backup must be an active relationship manager."), field="delegate")
    if delegator.branch_id is None or delegate.branch_id != delegator.branch_id:
        raise ApplicationError.invalid(_("The backup must work at the same branch."), field="delegate")
    if reason not in DelegationReason.values:
        raise ApplicationError.invalid(_("Choose a reason from the list."), field="reason")
    if ends_on < starts_on:
        raise ApplicationError.invalid(_("The last day cannot be before the first day."), field="ends_on")
    if starts_on < timezone.localdate():
        raise ApplicationError.invalid(_("A delegation cannot start in the past."), field="starts_on")
    if (ends_on - starts_on).days + 1 > Delegation.MAX_DAYS:
        raise ApplicationError.invalid(
            _("A delegation can last at most %(days)d days.") % {"days": Delegation.MAX_DAYS}, field="ends_on"
        )

    # Lock both RMs (in id order, so two requests cannot deadlock) so the overlap checks below
    # cannot race with a concurrent create for the same people.
    list(User.objects.select_for_update().filter(pk__in=[delegator.pk, delegate.pk]).order_by("pk"))
    open_delegations = Delegation.objects.not_revoked().overlapping(starts_on=starts_on, ends_on=ends_on)
    if open_delegations.filter(delegator=delegator).exists():
        raise ApplicationError.invalid(_("You already have a delegation covering some of these days; revoke it first."))
    if open_delegations.filter(delegator=delegate).exists():
        # A backup who is away themselves would leave the customers without anyone.
        raise ApplicationError.invalid(
            _("The backup is away on some of these days; choose someone else."), field="delegate"
        )

    delegation = Delegation.objects.create(
        delegator=delegator,
        delegate=delegate,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        note=note,
        created_by=by,
    )
    audit_record(
        actor=by,
        action=AUDIT_DELEGATION_CREATE,
        target=delegation,
        detail={
            "delegator_id": delegator.pk,
            "delegate_id": delegate.pk,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "reason": reason,
        },
    )
    return delegation


@transaction.atomic
def delegation_revoke(*, delegation: Delegation, by: User) -> Delegation:
    """End a scheduled or active delegation now; the backup loses access at once."""
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if not permissions.can_revoke_delegation(by, delegation):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    status = delegation.status_on(timezone.localdate())
    if status == DelegationStatus.REVOKED:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This delegation was already revoked."))
    if status == DelegationStatus.EXPIRED:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This delegation has already ended."))

    delegation.revoked_at = timezone.now()
    delegation.revoked_by = by
    delegation.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=by,
        action=AUDIT_DELEGATION_REVOKE,
        target=delegation,
        detail={"previous_status": status.value},
    )
    return delegation
