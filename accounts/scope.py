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
- Records shared with a colleague (``accounts.RecordShare``): where the caller passes the
  record's guardian direct-FK table as ``shared_via``, a staff user also sees exactly the rows
  shared with them and still in force (``principal_shared_q``). API keys never get shares.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from functools import reduce

from django.db.models import BooleanField, Case, Expression, F, Func, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from accounts import permissions
from accounts.models import SharedRecordPermissionBase
from accounts.selectors import relationship_manager_ids_acting_for

# Roles that see their whole branch's customers (not only those they serve) on the customer pages.
CUSTOMER_BRANCH_WIDE: tuple[Callable, ...] = (permissions.is_branch_manager, permissions.is_complaint_desk)


def _union(*scopes: Q | None) -> Q | None:
    """OR the scopes that are not None; None when all are."""
    present = [each for each in scopes if each is not None]
    return reduce(operator.or_, present) if present else None


def principal_shared_q(principal, *, shared_via: type[SharedRecordPermissionBase], field: str = "pk") -> Q | None:
    """The rows shared with a staff user that are in force today, by ``field``; None for none.

    ``shared_via`` is the record's guardian direct-FK table: each of its rows is one share in force
    until ``ends_on`` (a revoke deletes the row), so an expired or revoked share stops counting at
    once. ``pk = ANY(ARRAY(subquery))`` over that one table: no content-type join, no Python round
    trip, and an index lookup under the OR (see ``_InArray``).
    """
    shares = _shares_in_force(principal, shared_via=shared_via)
    if shares is None:
        return None
    return Q(_InArray(F(field), Subquery(shares.values("content_object_id"))))


def _shares_in_force(principal, *, shared_via: type[SharedRecordPermissionBase]) -> QuerySet | None:
    """The share rows naming a signed-in, active member of staff today; None for anyone else."""
    if permissions.is_api_client(principal) or principal is None:
        return None
    if not (getattr(principal, "is_authenticated", False) and principal.is_active):
        return None
    return shared_via.objects.filter(user_id=principal.pk, ends_on__gte=timezone.localdate())


def principal_has_shares(principal, *, shared_via: type[SharedRecordPermissionBase]) -> bool:
    """Whether any share in force names the principal (one lookup on the share table's index).

    Lists ordered by name ask this first: with no share in force they keep the owner-FK scope,
    which PostgreSQL reads in name order from an index and stops after one page, where the OR
    would make it read and sort the whole book.
    """
    shares = _shares_in_force(principal, shared_via=shared_via)
    return shares is not None and shares.exists()


def principal_shared_ids(principal, *, shared_via: type[SharedRecordPermissionBase]) -> list[int]:
    """The ids of the records shared with the principal and in force today (one indexed lookup)."""
    shares = _shares_in_force(principal, shared_via=shared_via)
    return [] if shares is None else list(shares.values_list("content_object_id", flat=True))


class _InArray(Func):
    """``column = ANY(ARRAY(subquery))``.

    PostgreSQL runs the subquery once (an InitPlan) and answers the comparison from the column's
    index, so ``owner_fk = ... OR id = ANY(...)`` is a BitmapOr of two index scans. The plain
    ``id IN (subquery)`` under an OR becomes a hashed SubPlan tested on every row: a sequential
    scan, 4x the owner-FK query at 100k customers (bench/sharing_bench.py).
    """

    conditional = True
    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        column, subquery = self.get_source_expressions()
        column_sql, column_params = compiler.compile(column)
        subquery_sql, subquery_params = compiler.compile(subquery)  # "(SELECT ...)"
        return f"{column_sql} = ANY(ARRAY{subquery_sql})", (*column_params, *subquery_params)


def in_subquery(field: str, queryset: QuerySet) -> Q:
    """``field = ANY(ARRAY(queryset))``: the planner answers it from ``field``'s index, the subquery run once."""
    return Q(_InArray(F(field), Subquery(queryset)))


def with_shared(own: Q | None, principal, *, shared_via: type[SharedRecordPermissionBase],
                field: str = "pk") -> Q | None:
    """``own`` (a scope from this module) plus the rows shared with the principal."""
    if own is not None and not own:  # Q(): everything already
        return own
    return _union(own, principal_shared_q(principal, shared_via=shared_via, field=field))


def principal_customer_q(principal, *, prefix: str = "",
                         branch_wide: Sequence[Callable] = CUSTOMER_BRANCH_WIDE,
                         shared_via: type[SharedRecordPermissionBase] | None = None) -> Q | None:
    """The filter on customer columns the principal is limited to; Q() for all, None for none.

    ``prefix`` is the path to the customer ("customer__") when scoping rows that belong to one.
    ``shared_via`` (the customer share table) adds the customers shared with a staff user.
    """
    if shared_via is not None:
        own = principal_customer_q(principal, prefix=prefix, branch_wide=branch_wide)
        return with_shared(own, principal, shared_via=shared_via, field=f"{prefix}pk")
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
                                                          permissions.is_branch_manager),
                       shared_via: type[SharedRecordPermissionBase] | None = None) -> Q | None:
    """The filter on a branch column for rows a branch owns (complaints); Q() all, None none.

    ``shared_via`` (the row's share table) adds the rows shared with a staff user.
    """
    if shared_via is not None:
        return with_shared(principal_branch_q(principal, field=field, branch_wide=branch_wide), principal,
                           shared_via=shared_via)
    if permissions.is_api_client(principal):
        return Q(**{field: principal.branch_id}) if principal.branch_id else Q()
    if principal is None or not getattr(principal, "is_authenticated", False):
        return None
    if permissions.sees_all_branches(principal):
        return Q()
    if principal.branch_id and any(predicate(principal) for predicate in branch_wide):
        return Q(**{field: principal.branch_id})
    return None


def only_shared_expression(own: Q | None) -> Expression:
    """A boolean annotation: True for a row the principal sees only through a share.

    ``own`` is the principal's scope without shares (``principal_*_q`` without ``shared_via``).
    A share opens its record read only, so pages use this to hide edits, reveals and actions.
    """
    if own is None:
        return Value(True)
    if not own:  # Q(): every row
        return Value(False)
    return Case(When(own, then=Value(False)), default=Value(True), output_field=BooleanField())


def scoped(queryset: QuerySet, scope: Q | None) -> QuerySet:
    """Apply a scope from this module: None gives an empty queryset."""
    return queryset.none() if scope is None else queryset.filter(scope)


def is_staff_principal(principal) -> bool:
    """A signed-in member of staff, as opposed to a bank system's API key."""
    return not permissions.is_api_client(principal)


def api_key_has_scope(principal, scope: str) -> bool:
    """An API key holding ``scope`` (staff never hold key scopes)."""
    return permissions.is_api_client(principal) and principal.has_scope(scope)
