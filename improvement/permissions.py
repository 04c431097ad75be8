"""Who may do what in continuous improvement (role predicates from accounts.permissions; STYLE §8)."""

from __future__ import annotations

from accounts import permissions as roles
from accounts.models import User


def has_staff_role(user: User) -> bool:
    return user.is_authenticated and user.is_active and bool(user.role_names() or user.is_superuser)


def can_submit_suggestion(user: User) -> bool:
    """Every member of staff may suggest an improvement; auditors watch, they do not take part."""
    return has_staff_role(user) and not (roles.is_compliance_auditor(user) and not roles.is_admin(user)
                                         and len(user.role_names()) == 1)


def can_view_improvement(user: User) -> bool:
    return has_staff_role(user)


def can_manage_initiatives(user: User) -> bool:
    """Open initiatives and review suggestions: branch managers (their branch) and administrators."""
    return roles.is_branch_manager(user) or roles.is_admin(user)


def can_advance_initiative(user: User, initiative) -> bool:
    """The owner, a branch manager of the initiative's branch, or an administrator."""
    if roles.is_admin(user) or initiative.owner_id == user.pk:
        return True
    return roles.is_branch_manager(user) and initiative.branch_id is not None and initiative.branch_id == user.branch_id


def can_decide_suggestion(user: User, suggestion) -> bool:
    if roles.is_admin(user):
        return True
    return roles.is_branch_manager(user) and suggestion.branch_id == user.branch_id


def can_view_reviews(user: User) -> bool:
    """Supervision review lists: branch managers (their branch), auditors and administrators (all)."""
    return roles.is_branch_manager(user) or roles.sees_all_branches(user)


def can_reward_customer_feedback(user: User) -> bool:
    return roles.is_relationship_manager(user) or roles.is_branch_manager(user) or roles.is_admin(user)


def can_view_scorecards(user: User) -> bool:
    """RMs their own card, branch managers the branch, head office all (the selector decides which)."""
    return roles.is_relationship_manager(user) or roles.is_branch_manager(user) or roles.sees_all_branches(user)


def can_compute_scorecards(user: User) -> bool:
    return roles.is_admin(user)
