"""Who may call which customers endpoint: API-key scopes and staff role predicates per method
(accounts.permissions.require_scopes). Which customers: customers.selectors."""

from __future__ import annotations

from accounts import permissions, scope
from accounts.models import ApiScope, User


def can_maintain_customers(user: User) -> bool:
    """Create and change customer records: the staff who serve customers, not the desk or auditors."""
    return (
        permissions.is_relationship_manager(user) or permissions.is_branch_manager(user)
        or permissions.is_admin(user)
    )


def may_read_pii_unmasked(principal) -> bool:
    """Only an API key with customers:reveal reads PII unmasked through the API (audited).

    Staff sessions always get masked values, whatever their role: revealing is a page action, one
    field of one customer at a time and audited, and the API must not turn it into a bulk export.
    """
    return scope.api_key_has_scope(principal, ApiScope.CUSTOMERS_REVEAL)


CustomerAccess = permissions.require_scopes(
    read=ApiScope.CUSTOMERS_READ, write=ApiScope.CUSTOMERS_WRITE,
    staff_read=permissions.can_view_customers, staff_write=can_maintain_customers,
)
# A lookup is a read sent as POST (numbers never go in URLs).
CustomerLookupAccess = permissions.require_scopes(
    write=ApiScope.CUSTOMERS_READ, staff_write=permissions.can_view_customers,
)
# Holdings and transactions come from core banking: API keys write them, staff only read.
HoldingAccess = permissions.require_scopes(
    read=ApiScope.CUSTOMERS_READ, write=ApiScope.HOLDINGS_WRITE, staff_read=permissions.can_view_customers,
)
InteractionAccess = permissions.require_scopes(
    read=ApiScope.CUSTOMERS_READ, write=ApiScope.INTERACTIONS_WRITE,
    staff_read=permissions.can_view_customers, staff_write=permissions.can_record_interaction,
)
ProductAccess = permissions.require_scopes(
    read=ApiScope.PRODUCTS_READ, write=ApiScope.PRODUCTS_WRITE,
    staff_read=permissions.can_view_customers, staff_write=permissions.is_admin,
)
TransactionIngestAccess = permissions.require_scopes(write=ApiScope.TRANSACTIONS_WRITE)
