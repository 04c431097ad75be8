"""Who may see which rows: answered once, by the principal, for every selector (ARCHITECTURE "Access").

A principal is a signed-in staff ``User`` or an ``ApiClient`` (a bank system's API key). Each
question returns a ``Q`` over the caller's columns, ``Q()`` for everything, or None for
nothing, so every list stays a plain indexed WHERE clause. Views, the API and other apps never
filter by role or key themselves: they call a selector, and the selector asks this module.

- Customers: an API key sees every customer, or its branch's when the key is limited to one.
  A staff user sees their own customers as an RM (plus those of RMs who delegated to them
  today), their branch's when one of ``branch_wide``'s predicates holds, everything as an
  admin or compliance auditor; several roles give the union.
- Branch-owned rows (complaints): an API key its branch or all; head office all; complaint
  desk and branch manager their branch.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import reduce

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.selectors import relationship_manager_ids_acting_for

# Roles that see their whole branch's customers (not only those they serve) on the customer pages.
CUSTOMER_BRANCH_WIDE: tuple[Callable, ...] = (permissions.is_branch_manager, permissions.is_complaint_desk)


def principal_customer_q(principal, *, prefix: str = "",
                         branch_wide: Sequence[Callable] = CUSTOMER_BRANCH_WIDE) -> Q | None:
    """The filter on customer columns the principal is limited to; Q() for all, None for none.

    ``prefix`` is the path to the customer ("customer__") when scoping rows that belong to one.
    """
    if permissions.is_api_client(principal):
        return Q(**{f"{prefix}branch_id": principal.branch_id}) if principal.branch_id else Q()
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None
    if permissions.sees_all_branches(principal):
        return Q()
    scopes: list[Q] = []
    relationship_manager_ids = relationship_manager_ids_acting_for(user=principal)
    if relationship_manager_ids:
        scopes.append(Q(**{f"{prefix}relationship_manager_id__in": relationship_manager_ids}))
    if principal.branch_id is not None and any(predicate(principal) for predicate in branch_wide):
        scopes.append(Q(**{f"{prefix}branch_id": principal.branch_id}))
    if not scopes:
        return None
    return reduce(operator.or_, scopes)


def principal_branch_q(principal, *, field: str = "branch_id",
                       branch_wide: Sequence[Callable] = (permissions.is_complaint_desk,
                                                          permissions.is_branch_manager)) -> Q | None:
    """The filter on a branch column for rows a branch owns (complaints); Q() all, None none."""
    if permissions.is_api_client(principal):
        return Q(**{field: principal.branch_id}) if principal.branch_id else Q()
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None
    if permissions.sees_all_branches(principal):
        return Q()
    if principal.branch_id and any(predicate(principal) for predicate in branch_wide):
        return Q(**{field: principal.branch_id})
    return None


def scoped(queryset: QuerySet, scope: Q | None) -> QuerySet:
    """Apply a scope from this module: None gives an empty queryset."""
    return queryset.none() if scope is None else queryset.filter(scope)


def is_staff_principal(principal) -> bool:
    """A signed-in member of staff, as opposed to a bank system's API key."""
    return not permissions.is_api_client(principal)


def api_key_has_scope(principal, scope: str) -> bool:
    """An API key holding ``scope`` (staff never hold key scopes)."""
    return permissions.is_api_client(principal) and principal.has_scope(scope)
