"""Who may do what in the lifecycle chapter (named predicates over accounts' roles, STYLE.md §8)."""

from __future__ import annotations

from accounts import permissions
from accounts.models import User


def can_view_lifecycle_overview(user: User) -> bool:
    """Stage distribution and flows: branch managers (their branch) and head office."""
    return permissions.is_branch_manager(user) or permissions.sees_all_branches(user)


def can_view_at_risk(user: User) -> bool:
    """The at-risk list: RMs (their customers), branch managers (their branch), head office."""
    return (permissions.is_relationship_manager(user) or permissions.is_branch_manager(user)
            or permissions.sees_all_branches(user))


def can_work_retention(user: User) -> bool:
    """Record the action and outcome of a retention task; auditors read only."""
    return (permissions.is_relationship_manager(user) or permissions.is_branch_manager(user)
            or permissions.is_admin(user))


def can_view_churn_models(user: User) -> bool:
    """Model metrics, versions and scoring runs are for administrators."""
    return permissions.is_admin(user)


def can_manage_churn_models(user: User) -> bool:
    return permissions.is_admin(user)


def can_see_lifecycle_panel(user: User) -> bool:
    """Stage, churn probability and reasons on the 360 page: the staff who serve or oversee the customer."""
    return can_view_at_risk(user)
