"""Sharing one customer with a named colleague for a while (issue 10, point 8).

Who may share a customer is ``accounts.permissions.can_share_customer``; the grant itself (its
validation, the guardian row, the audit) is ``accounts.services.record_share_create``, the same
for every kind of record.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts import permissions
from accounts import services as account_services
from accounts.models import RecordShare, User
from core.errors import ApplicationError, ErrorCode
from customers.models import Customer


@transaction.atomic
def customer_share(*, customer: Customer, shared_with: User, reason: str, ends_on: date, by: User) -> RecordShare:
    """Let ``shared_with`` open this customer (the 360 page and the list) through ``ends_on``.

    The caller has fetched ``customer`` through selectors.customer_get_visible_to for ``by``.
    """
    if not permissions.can_share_customer(by, customer):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    return account_services.record_share_create(
        record=customer, shared_with=shared_with, reason=reason, ends_on=ends_on, by=by,
        colleague_may_view=permissions.can_view_customers,
    )


def customer_share_revoke(*, customer: Customer, share: RecordShare, by: User) -> RecordShare:
    """End one share of this customer now; ``share`` came from record_shares_active_for(customer)."""
    return account_services.record_share_revoke(
        share=share, by=by, may_share_record=permissions.can_share_customer(by, customer),
    )
