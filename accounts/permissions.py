"""Role predicates: the one place that says who may do what (STYLE.md §8).

Views, DRF permission classes and templates (through the ``roles`` context processor) all ask
these functions; nothing else inspects groups.
"""

from __future__ import annotations

from accounts.models import Role, User


def is_admin(user: User) -> bool:
    return user.is_authenticated and user.is_active and (user.is_superuser or user.has_role(Role.ADMIN))


def is_relationship_manager(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.RELATIONSHIP_MANAGER)


def is_branch_manager(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.BRANCH_MANAGER)


def is_complaint_desk(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLAINT_DESK)


def is_compliance_auditor(user: User) -> bool:
    return user.is_authenticated and user.has_role(Role.COMPLIANCE_AUDITOR)


def can_reveal_pii(user: User) -> bool:
    """Unmasked PII is for the staff who serve the customer; auditors read masked data only."""
    return is_relationship_manager(user) or is_branch_manager(user) or is_complaint_desk(user) or is_admin(user)


def can_view_audit_log(user: User) -> bool:
    return is_compliance_auditor(user) or is_admin(user)


def can_delegate_customers(user: User) -> bool:
    return is_relationship_manager(user)
