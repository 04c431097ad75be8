"""The branch service report: median, p90, overruns and survey numbers by touchpoint, per branch and period."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from service import selectors
from service.models import Touchpoint
from tests.accounts.factories import BranchFactory
from tests.customers.factories import CustomerFactory
from tests.service.factories import (
    ServiceRecordFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    touchpoint,
)

SINCE = datetime(2026, 11, 1).date()
UNTIL = datetime(2026, 11, 27).date()


def at(day: int, hour: int = 10):
    return timezone.make_aware(datetime(2026, 11, day, hour, 0))


@pytest.fixture
def fixture_branches(branch):
    """Consultations of 5, 10, 15, 20 and 30 minutes in the branch (standard 15), one elsewhere, one too early."""
    other = BranchFactory(code="B0202", name="Haidian Branch")
    customer = CustomerFactory(branch=branch)
    records = [
        ServiceRecordFactory(customer=customer, minutes=minutes, started_at=at(3 + n))
        for n, minutes in enumerate([5, 10, 15, 20, 30])
    ]
    ServiceRecordFactory(customer=customer, touchpoint=touchpoint("transfer"), minutes=12, started_at=at(10))
    ServiceRecordFactory(customer=CustomerFactory(branch=other), minutes=90, started_at=at(5))
    ServiceRecordFactory(customer=customer, minutes=90, started_at=at(1) - timedelta(days=2))
    for service_record, (csat, nps) in zip(records[:3], [(5, 10), (4, 9), (2, 3)], strict=True):
        SurveyResponseFactory(
            invitation=SurveyInvitationFactory(customer=customer, service_record=service_record),
            csat=csat, nps=nps, score_service=90 if nps > 6 else 30,
        )
    return branch, other


def test_branch_manager_report_numbers(fixture_branches, make_user):
    branch, _other = fixture_branches
    manager = make_user(Role.BRANCH_MANAGER, username="bm")

    report = selectors.service_report(user=manager, branch_id=None, since=SINCE, until=UNTIL)

    assert report.branch == branch
    rows = {row.touchpoint.code: row for row in report.rows}
    consultation = rows["consultation"]
    assert consultation.records == 5
    assert consultation.median_minutes == 15.0
    assert consultation.p90_minutes == 26.0  # percentile_cont: 20 + 0.6 * (30 - 20)
    assert consultation.overruns == 2 and consultation.overrun_pct == 40.0
    assert consultation.responses == 3 and consultation.csat_average == 3.7
    assert consultation.nps == 33.3  # (2 promoters - 1 detractor) / 3
    assert rows["transfer"].records == 1 and rows["transfer"].overruns == 1  # 12 min against 10
    assert rows["wealth_management"].records == 0 and rows["wealth_management"].median_minutes is None
    assert report.total_records == 6 and report.total_overruns == 3
    assert report.dimension_averages["score_service"] == 70.0
    assert set(rows) == set(Touchpoint.objects.filter(is_active=True).values_list("code", flat=True))


def test_branch_manager_always_gets_their_own_branch(fixture_branches, make_user):
    _branch, other = fixture_branches
    manager = make_user(Role.BRANCH_MANAGER, username="bm")

    report = selectors.service_report(user=manager, branch_id=other.pk, since=SINCE, until=UNTIL)

    assert report.branch.pk == manager.branch_id and report.total_records == 6


def test_head_office_sees_all_branches_or_one(fixture_branches, make_user):
    _branch, other = fixture_branches
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud")

    everything = selectors.service_report(user=auditor, branch_id=None, since=SINCE, until=UNTIL)
    one = selectors.service_report(user=auditor, branch_id=other.pk, since=SINCE, until=UNTIL)

    assert everything.total_records == 7 and everything.branch is None
    assert one.total_records == 1 and one.total_overruns == 1


def test_period_bounds_are_inclusive_local_days(fixture_branches, make_user):
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    report = selectors.service_report(user=manager, branch_id=None, since=at(3).date(), until=at(3).date())
    assert report.total_records == 1
