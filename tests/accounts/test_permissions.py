"""Role predicates: one row per role, one column per predicate."""

import pytest
from django.contrib.auth.models import AnonymousUser

from accounts import permissions
from tests.accounts.factories import DelegationFactory, UserFactory

ROLE_PREDICATES = [
    permissions.is_admin,
    permissions.is_relationship_manager,
    permissions.is_branch_manager,
    permissions.is_complaint_desk,
    permissions.is_compliance_auditor,
    permissions.can_reveal_pii,
    permissions.can_view_audit_log,
    permissions.can_delegate_customers,
    permissions.can_view_delegations,
]

TRUE_FOR_ROLE = {
    "rm": {"is_relationship_manager", "can_reveal_pii", "can_delegate_customers", "can_view_delegations"},
    "branch_manager": {"is_branch_manager", "can_reveal_pii", "can_view_delegations"},
    "complaint_desk": {"is_complaint_desk", "can_reveal_pii"},
    "auditor": {"is_compliance_auditor", "can_view_audit_log"},
    "admin": {"is_admin", "can_reveal_pii", "can_view_audit_log", "can_view_delegations"},
}


@pytest.mark.parametrize("role", TRUE_FOR_ROLE)
@pytest.mark.parametrize("predicate", ROLE_PREDICATES, ids=lambda predicate: predicate.__name__)
def test_role_predicate(user_for_role, role, predicate):
    """Each predicate is true exactly for the roles listed in TRUE_FOR_ROLE."""
    # given
    user = user_for_role(role)
    # when
    allowed = predicate(user)
    # then
    assert allowed is (predicate.__name__ in TRUE_FOR_ROLE[role])


@pytest.mark.parametrize("predicate", ROLE_PREDICATES, ids=lambda predicate: predicate.__name__)
def test_anonymous_user_has_no_role(db, predicate):
    """An anonymous visitor passes no predicate."""
    assert predicate(AnonymousUser()) is False


@pytest.mark.parametrize("predicate", ROLE_PREDICATES, ids=lambda predicate: predicate.__name__)
@pytest.mark.parametrize("role", TRUE_FOR_ROLE)
def test_deactivated_user_loses_every_role(user_for_role, role, predicate):
    """A deactivated account keeps its groups but passes no predicate."""
    # given
    user = user_for_role(role, is_active=False)
    # then
    assert predicate(user) is False


def test_superuser_counts_as_admin(db):
    """A Django superuser without the admin group is still an administrator."""
    assert permissions.is_admin(UserFactory(is_superuser=True)) is True


def test_rm_may_create_only_their_own_delegation(user_for_role):
    """An RM names a backup for their own customers, not for a colleague's."""
    # given
    rm, colleague = user_for_role("rm"), user_for_role("rm", username="colleague")
    # then
    assert permissions.can_create_delegation(rm, delegator=rm) is True
    assert permissions.can_create_delegation(rm, delegator=colleague) is False
    assert permissions.can_create_delegation(user_for_role("branch_manager"), delegator=rm) is False
    assert permissions.can_create_delegation(user_for_role("admin"), delegator=rm) is True


def test_only_delegator_or_admin_may_revoke(user_for_role):
    """The backup cannot drop a delegation; the delegator and an administrator can."""
    # given
    delegation = DelegationFactory()
    # then
    assert permissions.can_revoke_delegation(delegation.delegator, delegation) is True
    assert permissions.can_revoke_delegation(delegation.delegate, delegation) is False
    assert permissions.can_revoke_delegation(user_for_role("branch_manager"), delegation) is False
    assert permissions.can_revoke_delegation(user_for_role("admin"), delegation) is True
