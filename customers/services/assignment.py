"""Assigning relationship managers to the customers an import left unassigned (issue 11)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers import rules, selectors
from customers.models import Customer

AUDIT_RM_ASSIGN = "customers.relationship_manager_assign"
ASSIGN_MAX = 500


@transaction.atomic
def customer_relationship_manager_assign_bulk(*, by: User, customer_ids: list[int],
                                              relationship_manager: User) -> int:
    """Give unassigned customers of the branch manager's scope an RM; return how many were assigned.

    The RM must be an active relationship manager of each customer's branch (customers.rules).
    Customers outside the manager's scope, or assigned meanwhile, are left out, not an error.
    Audited once with the customer ids and the RM (no PII).
    """
    if not (permissions.is_branch_manager(by) or permissions.is_admin(by)):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        raise ApplicationError.invalid(_("Select at least one customer."), field="customers")
    if len(ids) > ASSIGN_MAX:
        raise ApplicationError.invalid(_("Assign at most %(max)d customers at a time.") % {"max": ASSIGN_MAX},
                                       field="customers")
    customers = list(
        selectors.customer_unassigned_visible_to(user=by).filter(pk__in=ids).order_by("id")
        .values_list("pk", "branch_id")
    )
    for _pk, branch_id in customers:
        code = rules.relationship_manager_user_violation(relationship_manager.pk, branch_id=branch_id)
        if code:
            raise ApplicationError.invalid(str(rules.MESSAGES[code]), field="relationship_manager")
    now = timezone.now()
    # The RM-is-null condition again in the UPDATE: a customer assigned meanwhile keeps its RM.
    assigned = list(
        Customer.objects.filter(pk__in=[pk for pk, _branch in customers], relationship_manager__isnull=True)
        .order_by("pk").values_list("pk", flat=True)
    )
    Customer.objects.filter(pk__in=assigned, relationship_manager__isnull=True).update(
        relationship_manager=relationship_manager, updated_at=now, info_updated_at=now)
    if assigned:
        audit_record(actor=by, action=AUDIT_RM_ASSIGN, detail={
            "customer_ids": assigned, "relationship_manager_id": relationship_manager.pk,
        })
    return len(assigned)
