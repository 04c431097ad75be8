"""Who may do what in training (role predicates from accounts.permissions; STYLE §8)."""

from __future__ import annotations

from accounts import permissions as roles
from accounts.models import User


def can_learn(user: User) -> bool:
    """Every member of staff with a role takes courses: their own learning only."""
    return user.is_authenticated and user.is_active and bool(user.role_names() or user.is_superuser)


def can_view_training_records(user: User) -> bool:
    """Others' enrolments, scores and KPIs: branch managers (their branch) and head office (all)."""
    return roles.is_branch_manager(user) or roles.sees_all_branches(user)


def can_assign_training(user: User) -> bool:
    """Enrol staff and schedule sessions: branch managers (their branch) and administrators."""
    return roles.is_branch_manager(user) or roles.is_admin(user)


def can_record_attendance(user: User, session) -> bool:
    """The session's instructor, a branch manager of its branch, or an administrator."""
    if roles.is_admin(user):
        return True
    if session.instructor_id is not None and session.instructor_id == user.pk:
        return True
    return roles.is_branch_manager(user) and (session.branch_id is None or session.branch_id == user.branch_id)
