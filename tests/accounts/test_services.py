"""delegation_create and delegation_revoke: the rules, the row, and the audit event."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from accounts import selectors, services
from accounts.models import Delegation, DelegationReason, Role
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent
from tests.accounts.factories import BranchFactory, DelegationFactory

TODAY = date(2030, 3, 10)


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to(datetime(2030, 3, 10, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")


@pytest.fixture
def backup(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_li")


def create(**overrides):
    """Call delegation_create with valid defaults, overridden per test."""
    arguments = {
        "starts_on": TODAY,
        "ends_on": TODAY + timedelta(days=4),
        "reason": DelegationReason.LEAVE,
        "note": "Annual leave",
    }
    arguments.update(overrides)
    arguments.setdefault("by", arguments["delegator"])
    return services.delegation_create(**arguments)


def test_create_records_delegation_and_audit_event(rm, backup):
    """A valid delegation is stored with its author and leaves one audit event."""
    # when
    delegation = create(delegator=rm, delegate=backup)
    # then
    delegation.refresh_from_db()
    assert (delegation.delegator, delegation.delegate, delegation.created_by) == (rm, backup, rm)
    assert (delegation.starts_on, delegation.ends_on) == (TODAY, TODAY + timedelta(days=4))
    assert delegation.revoked_at is None
    assert AuditEvent.objects.filter(action=services.AUDIT_DELEGATION_CREATE).count() == 1


def test_create_allows_exactly_the_maximum_length(rm, backup):
    """A delegation of MAX_DAYS days, both ends included, is accepted."""
    last_day = TODAY + timedelta(days=Delegation.MAX_DAYS - 1)
    delegation = create(delegator=rm, delegate=backup, ends_on=last_day)
    assert delegation.days == Delegation.MAX_DAYS


def test_create_after_a_revoked_or_adjacent_delegation_is_allowed(rm, backup, make_user):
    """Only an open delegation over the same days blocks a new one."""
    # given: a revoked one over the same days, and one that ends the day before
    DelegationFactory(delegator=rm, delegate=backup, starts_on=TODAY, ends_on=TODAY + timedelta(days=4),
                      revoked_at=datetime(2030, 3, 9, tzinfo=ZoneInfo("UTC")), revoked_by=rm)
    DelegationFactory(delegator=rm, delegate=backup, starts_on=TODAY - timedelta(days=5),
                      ends_on=TODAY - timedelta(days=1))
    # when
    delegation = create(delegator=rm, delegate=make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao"))
    # then
    assert delegation.pk is not None


def _other_branch_rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_far", branch=BranchFactory(code="B0999"))


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [
        ("delegator_not_rm", ErrorCode.INVALID),
        ("delegate_not_rm", ErrorCode.INVALID),
        ("delegate_inactive", ErrorCode.INVALID),
        ("delegate_is_self", ErrorCode.INVALID),
        ("other_branch", ErrorCode.INVALID),
        ("starts_in_past", ErrorCode.INVALID),
        ("ends_before_start", ErrorCode.INVALID),
        ("too_long", ErrorCode.INVALID),
        ("bad_reason", ErrorCode.INVALID),
        ("overlaps_own_delegation", ErrorCode.INVALID),
        ("backup_is_away", ErrorCode.INVALID),
        ("by_someone_else", ErrorCode.PERMISSION_DENIED),
        ("non_rm_delegates_self", ErrorCode.PERMISSION_DENIED),
    ],
)
def test_create_refuses_rule_breaks(rm, backup, make_user, case, expected_code):
    """Each rule refuses with an ApplicationError and writes nothing."""
    # given
    arguments = {"delegator": rm, "delegate": backup}
    if case == "delegator_not_rm":  # recorded by an administrator, who passes the permission check
        arguments["delegator"] = make_user(Role.BRANCH_MANAGER, username="manager")
        arguments["by"] = make_user(Role.ADMIN, username="administrator")
    elif case == "delegate_not_rm":
        arguments["delegate"] = make_user(Role.COMPLAINT_DESK, username="desk")
    elif case == "delegate_inactive":
        arguments["delegate"] = make_user(Role.RELATIONSHIP_MANAGER, username="gone", is_active=False)
    elif case == "delegate_is_self":
        arguments["delegate"] = rm
    elif case == "other_branch":
        arguments["delegate"] = _other_branch_rm(make_user)
    elif case == "starts_in_past":
        arguments["starts_on"] = TODAY - timedelta(days=1)
    elif case == "ends_before_start":
        arguments["ends_on"] = TODAY - timedelta(days=1)
    elif case == "too_long":
        arguments["ends_on"] = TODAY + timedelta(days=Delegation.MAX_DAYS)
    elif case == "bad_reason":
        arguments["reason"] = "holiday_in_bali"
    elif case == "overlaps_own_delegation":
        DelegationFactory(delegator=rm, delegate=make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao"),
                          starts_on=TODAY + timedelta(days=4), ends_on=TODAY + timedelta(days=8))
    elif case == "backup_is_away":
        DelegationFactory(delegator=backup, delegate=make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao"),
                          starts_on=TODAY + timedelta(days=2), ends_on=TODAY + timedelta(days=3))
    elif case == "by_someone_else":
        arguments["by"] = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao")
    elif case == "non_rm_delegates_self":
        arguments["delegator"] = make_user(Role.BRANCH_MANAGER, username="manager")
    count_before = Delegation.objects.count()
    # when
    with pytest.raises(ApplicationError) as raised:
        create(**arguments)
    # then
    assert raised.value.code == expected_code
    assert raised.value.message
    assert Delegation.objects.count() == count_before
    assert not AuditEvent.objects.filter(action=services.AUDIT_DELEGATION_CREATE).exists()


@pytest.mark.parametrize("starts_in_days", [0, 3], ids=["active", "scheduled"])
def test_revoke_ends_access_at_once(rm, backup, starts_in_days):
    """Revoking an active or scheduled delegation stamps it and removes the backup's access."""
    # given
    starts_on = TODAY + timedelta(days=starts_in_days)
    delegation = DelegationFactory(delegator=rm, delegate=backup, starts_on=starts_on)
    # when
    services.delegation_revoke(delegation=delegation, by=rm)
    # then
    delegation.refresh_from_db()
    assert delegation.revoked_by == rm and delegation.revoked_at is not None
    assert selectors.relationship_manager_ids_acting_for(user=backup, on=delegation.starts_on) == [backup.pk]
    assert AuditEvent.objects.filter(action=services.AUDIT_DELEGATION_REVOKE).count() == 1


def test_admin_may_revoke(rm, backup, user_for_role):
    """An administrator can end any delegation."""
    delegation = DelegationFactory(delegator=rm, delegate=backup)
    services.delegation_revoke(delegation=delegation, by=user_for_role("admin"))
    delegation.refresh_from_db()
    assert delegation.revoked_at is not None


@pytest.mark.parametrize(
    ("case", "expected_code"),
    [
        ("already_revoked", ErrorCode.INVALID_TRANSITION),
        ("already_expired", ErrorCode.INVALID_TRANSITION),
        ("by_delegate", ErrorCode.PERMISSION_DENIED),
    ],
)
def test_revoke_refuses(rm, backup, case, expected_code):
    """A revoked or expired delegation cannot be revoked, nor can the backup revoke it; nothing changes."""
    # given
    delegation = DelegationFactory(delegator=rm, delegate=backup)
    by = rm
    if case == "already_revoked":
        services.delegation_revoke(delegation=delegation, by=rm)
    elif case == "already_expired":
        delegation.starts_on, delegation.ends_on = TODAY - timedelta(days=9), TODAY - timedelta(days=2)
        delegation.save()
    elif case == "by_delegate":
        by = backup
    delegation.refresh_from_db()
    before = (delegation.revoked_at, delegation.revoked_by_id)
    audit_count = AuditEvent.objects.filter(action=services.AUDIT_DELEGATION_REVOKE).count()
    # when
    with pytest.raises(ApplicationError) as raised:
        services.delegation_revoke(delegation=delegation, by=by)
    # then
    assert raised.value.code == expected_code
    delegation.refresh_from_db()
    assert (delegation.revoked_at, delegation.revoked_by_id) == before
    assert AuditEvent.objects.filter(action=services.AUDIT_DELEGATION_REVOKE).count() == audit_count
