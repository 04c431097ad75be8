"""Delegation table invariants, the active() filter by date, and role labels."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Delegation, DelegationStatus, Role, User
from tests.accounts.factories import DelegationFactory, UserFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
STARTS_ON = date(2030, 3, 10)
ENDS_ON = date(2030, 3, 16)


@pytest.fixture
def delegation(db):
    return DelegationFactory(starts_on=STARTS_ON, ends_on=ENDS_ON)


def test_database_refuses_end_before_start(delegation):
    """The table itself refuses a delegation that ends before it starts."""
    with pytest.raises(IntegrityError), transaction.atomic():
        DelegationFactory(
            delegator=delegation.delegator, starts_on=STARTS_ON, ends_on=STARTS_ON - timedelta(days=1)
        )


def test_database_refuses_delegation_to_self(delegation):
    """The table itself refuses a delegation from an RM to themselves."""
    with pytest.raises(IntegrityError), transaction.atomic():
        DelegationFactory(delegator=delegation.delegator, delegate=delegation.delegator)


def test_database_refuses_half_revoked_row(delegation):
    """revoked_at and revoked_by are set together or not at all."""
    delegation.revoked_at = timezone.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        delegation.save()


@pytest.mark.parametrize(
    ("today", "is_active", "status"),
    [
        (STARTS_ON - timedelta(days=1), False, DelegationStatus.SCHEDULED),
        (STARTS_ON, True, DelegationStatus.ACTIVE),
        (ENDS_ON, True, DelegationStatus.ACTIVE),
        (ENDS_ON + timedelta(days=1), False, DelegationStatus.EXPIRED),
    ],
    ids=["day-before-start", "first-day", "last-day", "day-after-end"],
)
def test_active_follows_the_calendar(delegation, time_machine, today, is_active, status):
    """A delegation is active from its first to its last day inclusive and expires by itself."""
    # given: 07:00 Beijing time, when the UTC date is still the day before
    time_machine.move_to(datetime.combine(today, datetime.min.time(), tzinfo=SHANGHAI) + timedelta(hours=7))
    # when
    active_ids = list(Delegation.objects.active().values_list("pk", flat=True))
    # then
    assert (delegation.pk in active_ids) is is_active
    assert delegation.status is status


def test_active_on_an_explicit_day(delegation):
    """active(on=...) answers for the given day, whatever today is."""
    assert Delegation.objects.active(on=STARTS_ON).filter(pk=delegation.pk).exists()
    assert not Delegation.objects.active(on=ENDS_ON + timedelta(days=1)).filter(pk=delegation.pk).exists()


def test_revoked_delegation_is_never_active(delegation):
    """Revoking ends access on a day the dates alone would call active."""
    # given
    delegation.revoked_at, delegation.revoked_by = timezone.now(), delegation.delegator
    delegation.save()
    # then
    assert not Delegation.objects.active(on=STARTS_ON).exists()
    assert delegation.status_on(STARTS_ON) is DelegationStatus.REVOKED


def test_role_labels_are_translated_labels_in_role_order(make_user):
    """role_labels() gives readable role names, not group names."""
    # given
    user = make_user(Role.BRANCH_MANAGER)
    user.groups.add(Group.objects.get(name=Role.RELATIONSHIP_MANAGER))
    # when
    labels = User.objects.get(pk=user.pk).role_labels()
    # then
    assert labels == ["relationship manager", "branch manager"]


def test_full_name_reads_family_name_first_for_chinese_names(db):
    assert UserFactory(username="zw", last_name="张", first_name="伟").get_full_name() == "张伟"
    assert UserFactory(username="jd", last_name="Doe", first_name="Jane").get_full_name() == "Jane Doe"
