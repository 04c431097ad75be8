"""Who sees which delegations, and whose customers an RM serves on a given day."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts import selectors
from accounts.models import Role
from tests.accounts.factories import BranchFactory, DelegationFactory

STARTS_ON = date(2030, 3, 10)
ENDS_ON = date(2030, 3, 16)


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")


@pytest.fixture
def backup(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_li")


@pytest.fixture
def delegation(rm, backup):
    return DelegationFactory(delegator=rm, delegate=backup, starts_on=STARTS_ON, ends_on=ENDS_ON)


@pytest.fixture
def other_branch_delegation(db):
    return DelegationFactory(delegator__branch=BranchFactory(code="B0999"))


@pytest.mark.parametrize(
    ("day", "acting_for_delegator"),
    [
        (STARTS_ON - timedelta(days=1), False),
        (STARTS_ON, True),
        (ENDS_ON, True),
        (ENDS_ON + timedelta(days=1), False),
    ],
    ids=["day-before-start", "first-day", "last-day", "day-after-end"],
)
def test_backup_acts_for_delegator_only_while_active(delegation, rm, backup, time_machine, day,
                                                     acting_for_delegator):
    """The backup serves the delegator's customers from the first to the last day, then not."""
    # given
    time_machine.move_to(datetime.combine(day, datetime.min.time(), tzinfo=ZoneInfo("Asia/Shanghai")))
    # when
    rm_ids = selectors.relationship_manager_ids_acting_for(user=backup)
    # then
    assert rm_ids == ([backup.pk, rm.pk] if acting_for_delegator else [backup.pk])


def test_delegator_keeps_only_their_own_customers(delegation, rm):
    """Delegating does not hand the delegator the backup's customers."""
    assert selectors.relationship_manager_ids_acting_for(user=rm, on=STARTS_ON) == [rm.pk]


def test_revoked_delegation_grants_nothing(delegation, rm, backup):
    """After revocation the backup is back to their own customers, even within the dates."""
    # given
    delegation.revoked_at, delegation.revoked_by = timezone.now(), rm
    delegation.save()
    # then
    assert selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON) == [backup.pk]


def test_delegations_are_not_transitive(delegation, backup, make_user):
    """A backup's own backup does not inherit the first RM's customers."""
    # given
    third = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao")
    DelegationFactory(delegator=backup, delegate=third, starts_on=STARTS_ON, ends_on=ENDS_ON)
    # then
    assert selectors.relationship_manager_ids_acting_for(user=third, on=STARTS_ON) == [third.pk, backup.pk]


def test_several_delegators_are_all_listed(delegation, rm, backup, make_user):
    """A backup for two colleagues serves both sets of customers."""
    # given
    second = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao")
    DelegationFactory(delegator=second, delegate=backup, starts_on=STARTS_ON, ends_on=STARTS_ON)
    # then
    assert selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON) == [
        backup.pk, *sorted([rm.pk, second.pk])
    ]


@pytest.mark.parametrize("role", ["branch_manager", "complaint_desk", "auditor", "admin"])
def test_non_rm_acts_for_nobody(user_for_role, role):
    """Customer scoping gets an empty list, never "everyone", for a user who is not an RM."""
    assert selectors.relationship_manager_ids_acting_for(user=user_for_role(role)) == []


def test_deactivated_backup_acts_for_nobody(delegation, backup):
    """A deactivated RM is no longer an RM, so not even their own customers."""
    backup.is_active = False
    backup.save()
    assert selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON) == []


def test_rm_sees_given_and_received_only(delegation, rm, backup, make_user, other_branch_delegation):
    """An RM sees the delegations they gave or received, not colleagues' ones."""
    # given
    outsider = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao")
    # then
    assert list(selectors.delegation_list_visible_to(user=rm)) == [delegation]
    assert list(selectors.delegation_list_visible_to(user=backup)) == [delegation]
    assert list(selectors.delegation_list_visible_to(user=outsider)) == []


def test_branch_manager_sees_own_branch_only(delegation, user_for_role, other_branch_delegation):
    """A branch manager sees their branch's delegations and no other branch's."""
    assert list(selectors.delegation_list_visible_to(user=user_for_role("branch_manager"))) == [delegation]


def test_admin_sees_all(delegation, user_for_role, other_branch_delegation):
    """An administrator sees every branch's delegations."""
    visible = set(selectors.delegation_list_visible_to(user=user_for_role("admin")))
    assert visible == {delegation, other_branch_delegation}


@pytest.mark.parametrize("role", ["complaint_desk", "auditor"])
def test_other_roles_see_none(delegation, user_for_role, role):
    """Complaint desk and auditors see no delegations here."""
    assert not selectors.delegation_list_visible_to(user=user_for_role(role)).exists()


def test_delegate_candidates_are_active_rms_of_the_same_branch(rm, backup, make_user):
    """Only active RMs of the same branch, other than oneself, can be chosen as backup."""
    # given
    make_user(Role.RELATIONSHIP_MANAGER, username="rm_gone", is_active=False)
    make_user(Role.BRANCH_MANAGER, username="manager")
    make_user(Role.RELATIONSHIP_MANAGER, username="rm_far", branch=BranchFactory(code="B0999"))
    # then
    assert list(selectors.delegate_candidates_for(user=rm)) == [backup]


def test_the_delegation_lookup_runs_once_per_request_and_afresh_outside_one(delegation, rm, backup,
                                                                            django_assert_num_queries):
    """A page scopes its list, counts and panels by the same lookup: within one request it is read once
    (core.context.request_cached); a task or a test outside a request reads it every time."""
    from core import context

    backup.role_names()  # the role lookup is cached on the user anyway
    with django_assert_num_queries(2):
        for _ in range(2):
            assert selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON) == [backup.pk, rm.pk]
    token = context.bind(context.RequestContext(request_id="r1", cache={}))
    try:
        with django_assert_num_queries(1):
            for _ in range(3):
                ids = selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON)
                ids.append(0)  # a caller changing its list does not change the next caller's
        assert selectors.relationship_manager_ids_acting_for(user=backup, on=STARTS_ON) == [backup.pk, rm.pk]
    finally:
        context.reset(token)
