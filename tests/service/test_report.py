"""The branch service report: median, p90, overruns and survey numbers by touchpoint, per branch and period."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
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


# --- A branch manager without a branch (review finding 8) -----------------------------------


def test_branch_manager_without_a_branch_sees_an_empty_report(fixture_branches, make_user):
    """None must not mean "every branch" for anyone but head office."""
    manager = make_user(Role.BRANCH_MANAGER, username="bm_nowhere", branch=None)

    report = selectors.service_report(user=manager, branch_id=None, since=SINCE, until=UNTIL)

    assert report.no_branch and report.branch is None
    assert report.total_records == 0 and report.responses == 0 and report.csat_average is None
    assert all(row.records == 0 and row.responses == 0 for row in report.rows)


@pytest.mark.parametrize(
    ("role", "status", "records"),
    [("rm", 403, None), ("branch_manager", 200, 0), ("complaint_desk", 403, None),
     ("auditor", 200, 7), ("admin", 200, 7)],
)
def test_report_page_role_matrix_without_a_branch(client_as, fixture_branches, role, status, records):
    """Users posted to no branch: the branch manager's report is empty; head office still sees everything."""
    response = client_as(role, branch=None).get(reverse("service:service-report"),
                                                {"since": SINCE.isoformat(), "until": UNTIL.isoformat()})

    assert response.status_code == status
    if records is not None:
        assert response.context["report"].total_records == records


# --- Out-of-range dates (review finding 5) --------------------------------------------------


@pytest.mark.parametrize("field", ["since", "until"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1999-12-31", "2101-01-01"])
def test_report_refuses_dates_outside_2000_to_2100(client_as, field, day):
    """Given a far-off date, the page shows a form error and the default period, never a 500."""
    response = client_as("branch_manager").get(reverse("service:service-report"), {field: day})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors[field] == ["Enter a date between 2000-01-01 and 2100-12-31."]
    assert "Enter a date between 2000-01-01 and 2100-12-31." in response.content.decode()
    report = response.context["report"]
    assert report.until == timezone.localdate() and (report.until - report.since).days == 29


@pytest.mark.parametrize(("since", "until"), [("2000-01-01", "2000-01-01"), ("2100-12-31", "2100-12-31")])
def test_report_accepts_the_bounds_themselves(client_as, since, until):
    response = client_as("admin").get(reverse("service:service-report"), {"since": since, "until": until})

    assert response.status_code == 200 and not response.context["form"].errors
    assert response.context["report"].total_records == 0


@pytest.mark.parametrize(("since", "until"), [(date.min, date.max), (date.max, date.max), (date.min, date.min)])
def test_report_selector_survives_extreme_dates(make_user, since, until):
    """A caller that skipped the form's validation gets an empty period, not an OverflowError."""
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud")
    report = selectors.service_report(user=auditor, branch_id=None, since=since, until=until)
    assert report.total_records == 0


def test_report_page_draws_a_chart_of_handling_times(fixture_branches, client_as):
    client = client_as("branch_manager")

    response = client.get(reverse("service:service-report"), {"since": SINCE, "until": UNTIL})

    content = response.content.decode()
    assert 'data-chart="handling-chart-data"' in content and "chart.umd.min.js" in content
    chart = response.context["handling_chart"]
    consultation = chart["labels"].index("consultation")
    assert [dataset["data"][consultation] for dataset in chart["datasets"]] == [15, 15.0, 26.0]
