"""Reads for accounts, each scoped to the viewing user (STYLE.md §2)."""

from __future__ import annotations

import operator
from datetime import date
from functools import reduce

from django.contrib.contenttypes.models import ContentType
from django.db.models import Model, Q, QuerySet

from accounts import permissions
from accounts.models import Delegation, RecordShare, Role, User
from core.context import request_cached


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

    def lookup() -> tuple[int, ...]:
        delegator_ids = (
            Delegation.objects.active(on)
            .filter(delegate=user)
            .order_by()  # DISTINCT on the delegator alone, not on the model's ordering columns too
            .values_list("delegator_id", flat=True)
            .distinct()
        )
        return (user.pk, *sorted(delegator_ids))

    # Once per request: a page's list, counts and panels each scope by it (the RM dashboard asked four times).
    return list(request_cached(("relationship_manager_ids_acting_for", user.pk, on), lookup))


# --- Record sharing (issue 10, point 8) -----------------------------------------------------


def record_shares_active_for(*, record: Model) -> QuerySet[RecordShare]:
    """The shares of one record in force today, newest first (the caller has scoped the record)."""
    return (RecordShare.objects.active()
            .filter(content_type=ContentType.objects.get_for_model(record), object_id=record.pk)
            .select_related("shared_with", "shared_by"))


def record_shares_received(*, user: User) -> QuerySet[RecordShare]:
    """The shares in force today with ``user``, soonest to end first, each with its record."""
    if not getattr(user, "is_authenticated", False) or permissions.is_api_client(user):
        return RecordShare.objects.none()
    return (RecordShare.objects.active().filter(shared_with=user)
            .select_related("shared_by", "content_type")
            .prefetch_related("record")
            .order_by("ends_on", "-id"))


def share_colleague_candidates(*, user: User) -> QuerySet[User]:
    """Active colleagues the user may name when sharing a record; the service checks their role."""
    return (User.objects.filter(is_active=True).exclude(pk=user.pk)
            .filter(groups__isnull=False).distinct()
            .select_related("branch").order_by("first_name", "last_name", "username"))
