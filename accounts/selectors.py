"""Reads for accounts, each scoped to the viewing user (STYLE.md §2)."""

from __future__ import annotations

import operator
from datetime import date
from functools import reduce

from django.db.models import Q, QuerySet

from accounts import permissions
from accounts.models import Delegation, Role, User


def delegation_list_visible_to(*, user: User) -> QuerySet[Delegation]:
    """Return the delegations the user may see: an RM their own, a branch manager their branch's."""
    queryset = Delegation.objects.select_related(
        "delegator", "delegate", "delegator__branch", "created_by", "revoked_by"
    )
    if permissions.is_admin(user):
        return queryset
    scopes: list[Q] = []
    if permissions.is_relationship_manager(user):
        scopes += [Q(delegator=user), Q(delegate=user)]
    if permissions.is_branch_manager(user) and user.branch_id is not None:
        scopes.append(Q(delegator__branch_id=user.branch_id))
    if not scopes:
        return queryset.none()
    return queryset.filter(reduce(operator.or_, scopes))


def delegation_get_visible_to(*, user: User, delegation_id: int) -> Delegation:
    """Return one delegation the user may see (Delegation.DoesNotExist otherwise, a 404 for pages)."""
    return delegation_list_visible_to(user=user).get(pk=delegation_id)


def delegate_candidates_for(*, user: User) -> QuerySet[User]:
    """Return the active RMs of the user's branch who may be named as the user's backup."""
    if user.branch_id is None:
        return User.objects.none()
    return (
        User.objects.filter(branch_id=user.branch_id, is_active=True, groups__name=Role.RELATIONSHIP_MANAGER)
        .exclude(pk=user.pk)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def relationship_manager_ids_acting_for(*, user: User, on: date | None = None) -> list[int]:
    """Return the RMs whose customers the user serves on ``on``: themselves plus active delegators.

    Customer scoping builds on this, so a non-RM gets an empty list (never "everyone"), and only
    direct delegations count: a backup's own backup does not inherit the first RM's customers.
    """
    if not permissions.is_relationship_manager(user):
        return []
    delegator_ids = (
        Delegation.objects.active(on)
        .filter(delegate=user)
        .values_list("delegator_id", flat=True)
        .distinct()
    )
    return [user.pk, *sorted(delegator_ids)]
