"""Each KPI formula on hand-made data with a known answer (MANUAL Ch. 6)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from accounts.models import Role
from complaints.services import complaint_acknowledge, complaint_resolve
from customers.models import CustomerStatus
from evaluation import selectors, services
from evaluation.models import KpiSnapshot, PeriodKind, Rag, ScopeKind
from evaluation.periods import Period
from segmentation.models import SegmentHistory
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
)
from tests.evaluation.factories import NOVEMBER, churn_warning, classified, compute, local
from tests.service.factories import SurveyResponseFactory

pytestmark = pytest.mark.django_db


def value(code: str, *, branch_id=None, rm_id=None, period: Period = NOVEMBER) -> Decimal | None:
    return selectors.kpi_snapshot_value(kpi_code=code, period_kind=period.kind, period_start=period.start,
                                        branch_id=branch_id, relationship_manager_id=rm_id)


@pytest.fixture
def rm(branch):
    return UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_kpi")


def closed(on: date, **kwargs):
    return CustomerFactory(status=CustomerStatus.CLOSED, closed_on=on, **kwargs)


def test_retention_and_churn_count_the_cohort_on_the_books_on_the_first_day(branch, rm):
    # given 4 customers on the books on 1 November, one closes on 1 Nov and one on 30 Nov;
    # one closed in October (not in the cohort), one joins in November (not in the cohort)
    CustomerFactory(branch=branch, relationship_manager=rm)
    CustomerFactory(branch=branch, relationship_manager=rm, customer_since=None)
    closed(date(2026, 11, 1), branch=branch, relationship_manager=rm)
    closed(date(2026, 11, 30), branch=branch)
    closed(date(2026, 10, 31), branch=branch)
    CustomerFactory(branch=branch, customer_since=date(2026, 11, 15))
    CustomerFactory(branch=branch, customer_since=date(2026, 12, 1))  # after November
    # when
    compute()
    # then
    assert value("retention_rate") == Decimal("50.0000")
    assert value("churn_rate") == Decimal("50.0000")
    assert value("retention_rate", branch_id=branch.pk) == Decimal("50.0000")
    assert value("retention_rate", rm_id=rm.pk) == Decimal("66.6667")  # 2 of 3
    assert value("acquisition_rate") == Decimal("25.0000")  # 1 new of 4 on the books on day one


def test_retention_is_green_at_80_percent_and_red_below_the_amber_band(branch):
    # given 4 of 5 retained in branch A (80 %), 2 of 3 (66.7 %) in branch B
    other = BranchFactory(code="B0202", name="Haidian Branch")
    for _ in range(4):
        CustomerFactory(branch=branch)
    closed(date(2026, 11, 10), branch=branch)
    CustomerFactory(branch=other)
    CustomerFactory(branch=other)
    closed(date(2026, 11, 10), branch=other)
    # when
    compute(codes=["retention_rate"])
    # then: 80 meets ">= 80"; 66.7 misses by more than 10 % of 80 (72)
    rows = {row.branch_id: row for row in KpiSnapshot.objects.filter(scope=ScopeKind.BRANCH)}
    assert rows[branch.pk].rag == Rag.GREEN
    assert rows[other.pk].rag == Rag.RED
    assert rows[other.pk].target.value == Decimal("80")
    bank = KpiSnapshot.objects.get(scope=ScopeKind.BANK, kpi__code="retention_rate")
    assert (bank.numerator, bank.denominator, bank.value) == (6, 8, Decimal("75.0000"))
    assert bank.rag == Rag.AMBER  # 75 misses 80 by 5, within the 8-point band


def test_month_end_is_midnight_in_shanghai_not_utc(branch):
    # given one transaction at 23:59 on 30 Nov Beijing time (15:59 UTC) and one at 00:00 on 1 Dec
    late_november = CustomerFactory(branch=branch)
    early_december = CustomerFactory(branch=branch)
    TransactionFactory(customer=late_november, occurred_at=local(2026, 11, 30, 23, 59, 59))
    TransactionFactory(customer=early_december, occurred_at=local(2026, 12, 1, 0, 0, 0))
    # ... and one at 07:59 on 1 Nov Beijing time (still 31 Oct in UTC)
    first_morning = CustomerFactory(branch=branch)
    TransactionFactory(customer=first_morning, occurred_at=local(2026, 11, 1, 7, 59))
    # when
    compute(codes=["active_rate"])
    # then: the November customers are active, the December one is not
    assert value("active_rate") == Decimal("66.6667")


def test_contacts_per_customer_and_product_usage(branch):
    # given 2 customers on the books; 3 interactions in November, one in October
    first, second = CustomerFactory(branch=branch), CustomerFactory(branch=branch)
    for day in (3, 4):
        InteractionFactory(customer=first, occurred_at=local(2026, 11, day, 10))
    InteractionFactory(customer=second, occurred_at=local(2026, 11, 20, 10))
    InteractionFactory(customer=second, occurred_at=local(2026, 10, 20, 10))
    # first holds two products at the end of November, second held two but closed one on 30 Nov
    deposit, fund = ProductFactory(code="DEP"), ProductFactory(code="FUND")
    HoldingFactory(customer=first, product=deposit)
    HoldingFactory(customer=first, product=fund, opened_on=date(2026, 11, 30))
    HoldingFactory(customer=second, product=deposit)
    HoldingFactory(customer=second, product=fund, closed_on=date(2026, 11, 30))
    # when
    compute(codes=["contacts_per_customer", "product_usage_rate"])
    # then
    assert value("contacts_per_customer") == Decimal("1.5000")
    assert value("product_usage_rate") == Decimal("50.0000")


def test_tier_conversion_counts_moves_up_among_those_below_vip_at_the_start(branch):
    general, important, vip, unclassified = (CustomerFactory(branch=branch) for _ in range(4))

    def history(customer, at, from_rank, to_rank):
        tiers = {0: "", 1: "general", 2: "important", 3: "vip"}
        SegmentHistory.objects.create(
            customer=customer, policy_id=1, changed_at=at, from_tier=tiers[from_rank], to_tier=tiers[to_rank],
            from_tier_rank=from_rank, to_tier_rank=to_rank, to_value_class="general", to_behaviour_class="active",
            to_risk_class="low")

    history(general, local(2026, 1, 1), 0, 1)
    history(important, local(2026, 1, 1), 0, 2)
    history(vip, local(2026, 1, 1), 0, 3)
    history(general, local(2026, 11, 5), 1, 2)  # moved up in November
    history(unclassified, local(2026, 11, 5), 0, 1)  # first classification: not a move up
    # when
    compute(codes=["tier_conversion_rate"])
    # then: 1 of the 2 below VIP on 1 November moved up
    assert value("tier_conversion_rate") == Decimal("50.0000")


def test_complaint_kpis_rates_response_time_and_sla(branch, django_capture_on_commit_callbacks):
    # given 200 customers on the books and 2 complaints received in November
    customers = CustomerFactory.create_batch(200, branch=branch)
    fast = make_complaint(customer=customers[0], received_at=local(2026, 11, 2, 9))
    slow = make_complaint(customer=customers[1], received_at=local(2026, 11, 3, 9))
    make_complaint(customer=customers[2], received_at=local(2026, 10, 3, 9))  # October
    # first responses after 2 h and 30 h; fast resolved in 10 h (met), slow in 60 h (missed)
    complaint_acknowledge(complaint=fast, by=None, note="", now=local(2026, 11, 2, 11))
    complaint_acknowledge(complaint=slow, by=None, note="", now=local(2026, 11, 4, 15))
    complaint_resolve(complaint=fast, by=None, resolution="ok", root_cause="C04", now=local(2026, 11, 2, 19))
    complaint_resolve(complaint=slow, by=None, resolution="ok", root_cause="C04", now=local(2026, 11, 5, 21))
    # when
    compute(codes=["complaint_rate", "complaints_per_10m_customers", "complaints_per_1000_branches",
                   "response_time_hours", "sla_compliance_rate"])
    # then
    assert value("complaint_rate") == Decimal("1.0000")  # 2 of 200
    assert KpiSnapshot.objects.get(scope="bank", kpi__code="complaint_rate").rag == Rag.AMBER  # not < 1
    assert value("complaints_per_10m_customers") == Decimal("100000.0000")
    assert value("complaints_per_1000_branches") == Decimal("2000.0000")  # 2 complaints, 1 branch
    assert value("response_time_hours") == Decimal("16.0000")  # (2 + 30) / 2
    assert value("sla_compliance_rate") == Decimal("50.0000")


def test_survey_kpis(branch, rm):
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    answers = [(5, 10, 90), (4, 9, 80), (3, 7, None), (2, 3, 40)]
    for csat, nps, service_score in answers:
        SurveyResponseFactory(invitation__customer=customer, csat=csat, nps=nps, score_service=service_score,
                              score_product=None, score_ease=None, submitted_at=local(2026, 11, 10, 12))
    SurveyResponseFactory(invitation__customer=customer, csat=1, nps=0, submitted_at=local(2026, 12, 1, 0, 1))
    # when
    compute(codes=["satisfaction_rate", "csat_average", "nps", "satisfaction_index"])
    # then
    assert value("satisfaction_rate") == Decimal("50.0000")
    assert value("csat_average") == Decimal("3.5000")
    assert value("nps", rm_id=rm.pk) == Decimal("25.0000")  # (2 promoters - 1 detractor) / 4
    assert value("satisfaction_index") == Decimal("70.0000")  # (90 + 80 + 40) / 3


def test_clv_average_is_broken_down_by_tier(branch):
    for tier, clv in (("vip", "900000"), ("vip", "700000"), ("general", "1000")):
        classified(CustomerFactory(branch=branch), tier, clv)
    compute(codes=["clv_average"])
    rows = {row.dimension: row.value for row in KpiSnapshot.objects.filter(scope="bank", kpi__code="clv_average")}
    assert rows == {"": Decimal("533666.6667"), "vip": Decimal("800000.0000"), "general": Decimal("1000.0000")}


def test_churn_warning_rate_counts_customers_warned_in_the_month_among_those_on_the_books(branch, rm):
    # given 5 customers on the books at the end of November, three of them the RM's:
    warned_early, warned_last_minute, warned_december = (CustomerFactory(branch=branch, relationship_manager=rm)
                                                         for _ in range(3))
    warned_october, never_warned = CustomerFactory(branch=branch), CustomerFactory(branch=branch)
    churn_warning(warned_early, created_at=local(2026, 11, 1, 0, 0), worked=True)  # first instant of November (Beijing)
    churn_warning(warned_early, created_at=local(2026, 11, 20, 3))  # a second warning: still one customer
    churn_warning(warned_last_minute, created_at=local(2026, 11, 30, 23, 59, 59))
    churn_warning(warned_december, created_at=local(2026, 12, 1, 0, 0))  # 16:00 UTC on 30 Nov: December
    churn_warning(warned_october, created_at=local(2026, 10, 31, 23, 59))
    # ... and one warned in November who closed in November: not on the books at the end
    churn_warning(closed(date(2026, 11, 25), branch=branch), created_at=local(2026, 11, 10, 3))
    assert never_warned.closed_on is None
    # when
    compute(codes=["churn_warning_rate"])
    # then: 2 of 5 for the bank and the branch; 2 of the RM's 3
    assert value("churn_warning_rate") == Decimal("40.0000")
    assert value("churn_warning_rate", branch_id=branch.pk) == Decimal("40.0000")
    assert value("churn_warning_rate", rm_id=rm.pk) == Decimal("66.6667")
    bank = KpiSnapshot.objects.get(scope=ScopeKind.BANK, kpi__code="churn_warning_rate")
    assert (bank.numerator, bank.denominator) == (2, 5)
    assert bank.rag == Rag.NONE  # tracked, no target


def test_every_active_kpi_has_a_computation():
    """No KPI of the registry is silently skipped any more (the churn warning one was, until lifecycle landed)."""
    from evaluation import kpis
    from evaluation.models import KpiDefinition

    codes = set(KpiDefinition.objects.filter(is_active=True).values_list("code", flat=True))
    assert codes and {code for code in codes if kpis.computation_for(code) is None} == set()


def test_recomputing_replaces_the_period_and_leaves_others(branch):
    CustomerFactory(branch=branch)
    compute(codes=["retention_rate"])
    compute(Period(PeriodKind.MONTH, date(2026, 10, 1)), codes=["retention_rate"])
    before = KpiSnapshot.objects.count()
    closed(date(2026, 11, 5), branch=branch)
    # when
    compute(codes=["retention_rate"])
    # then
    assert KpiSnapshot.objects.count() == before
    assert value("retention_rate") == Decimal("50.0000")
    assert value("retention_rate", period=Period(PeriodKind.MONTH, date(2026, 10, 1))) == Decimal("100.0000")


def test_quarter_and_year_cover_their_months(branch):
    CustomerFactory(branch=branch)
    closed(date(2026, 12, 31), branch=branch)
    closed(date(2026, 10, 1), branch=branch)
    quarter, year = Period(PeriodKind.QUARTER, date(2026, 10, 1)), Period(PeriodKind.YEAR, date(2026, 1, 1))
    compute(quarter, codes=["churn_rate"])
    compute(year, codes=["churn_rate"])
    assert value("churn_rate", period=quarter) == Decimal("66.6667")
    assert value("churn_rate", period=year) == Decimal("66.6667")
    assert quarter.end == date(2026, 12, 31) and quarter.ends_at == local(2027, 1, 1)
    assert timedelta(0) == quarter.starts_at.utcoffset() - timedelta(hours=8)


def test_kpis_computed_in_one_shared_pass_equal_each_computed_from_its_own_statement(branch, rm):
    """The shared pass (one scan per row source) writes what each KPI's own row-level statement writes."""
    from django.db import connection

    from evaluation import kpis
    from evaluation.models import KpiDefinition

    # given customers of two RMs and none, some closed or new in November, with transactions,
    # interactions, holdings and survey answers, and one answer of a customer without an RM
    other_rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_kpi_2")
    people = [CustomerFactory(branch=branch, relationship_manager=owner) for owner in (rm, rm, other_rm, None)]
    people.append(closed(date(2026, 11, 12), branch=branch, relationship_manager=other_rm))
    people.append(CustomerFactory(branch=branch, relationship_manager=rm, customer_since=date(2026, 11, 3)))
    TransactionFactory(customer=people[0], occurred_at=local(2026, 11, 5, 9))
    TransactionFactory(customer=people[2], occurred_at=local(2026, 11, 6, 9))
    InteractionFactory(customer=people[1], occurred_at=local(2026, 11, 7, 9))
    InteractionFactory(customer=people[4], occurred_at=local(2026, 11, 8, 9))
    HoldingFactory(customer=people[0], product=ProductFactory(code="DEP"))
    HoldingFactory(customer=people[0], product=ProductFactory(code="FUND"))
    for customer, csat, nps in ((people[0], 5, 10), (people[2], 2, 4), (people[3], 4, 8)):
        SurveyResponseFactory(invitation__customer=customer, csat=csat, nps=nps, submitted_at=local(2026, 11, 9, 9))
    for customer, moves in ((people[0], ((0, 1), (1, 2))), (people[2], ((0, 1),))):
        for step, (from_rank, to_rank) in enumerate(moves):
            SegmentHistory.objects.create(
                customer=customer, policy_id=1, changed_at=local(2026, 1 + 10 * step, 5), from_tier="",
                to_tier="general", from_tier_rank=from_rank, to_tier_rank=to_rank, to_value_class="general",
                to_behaviour_class="active", to_risk_class="low")
    churn_warning(people[2], created_at=local(2026, 11, 10, 3))
    shared_codes = [code for code, computation in kpis.COMPUTATIONS.items() if computation.part is not None]
    assert {kpis.CUSTOMERS, kpis.RESPONSES} == {kpis.COMPUTATIONS[code].part.source for code in shared_codes}

    def rows():
        return sorted(KpiSnapshot.objects.filter(kpi__code__in=shared_codes).values_list(
            "kpi__code", "scope", "branch_id", "relationship_manager_id", "numerator", "denominator", "value", "rag"),
            key=str)

    # when: all of them together (one statement per source) ...
    compute(codes=shared_codes)
    together = rows()
    # ... and each from its own row-level statement
    KpiSnapshot.objects.all().delete()
    period = NOVEMBER
    with connection.cursor() as cursor:
        for code in shared_codes:
            definition = KpiDefinition.objects.get(code=code)
            target = services.kpi_target_in_force(kpi=definition, period=period)
            cursor.execute(services._snapshot_insert_sql(computation=kpis.COMPUTATIONS[code], by_tier=False), {
                **services._period_params(period, now=local(2026, 12, 1)),
                **services._target_params(target), "kpi_id": definition.pk,
                "scale": kpis.COMPUTATIONS[code].scale,
            })
    alone = rows()
    # then: the same rows, for every scope (bank, the branch, both RMs)
    assert together == alone
    assert {(code, scope) for code, scope, *_ in together} >= {(code, "rm") for code in shared_codes}
    assert {code for code, *_, value, _rag in together if value} == set(shared_codes)
    assert any(rag for *_, rag in together)


def test_one_branch_recomputed_alone_matches_the_full_pass_and_leaves_the_other_scopes(branch, rm):
    """kpi_snapshots_compute(branch_id=...) writes that branch's rows as the full pass would, for every
    KPI (shared, own statement, complaints, by tier), and touches no other scope's rows."""
    other = BranchFactory(code="B0202", name="Haidian Branch")
    for where, owner in ((branch, rm), (branch, None), (other, None)):
        customer = classified(CustomerFactory(branch=where, relationship_manager=owner), "vip", "5000")
        TransactionFactory(customer=customer, occurred_at=local(2026, 11, 5, 9))
        SurveyResponseFactory(invitation__customer=customer, csat=4, nps=9, submitted_at=local(2026, 11, 9, 9))
    closed(date(2026, 11, 12), branch=branch, relationship_manager=rm)
    CustomerFactory(branch=other, customer_since=date(2026, 11, 3))
    make_complaint(branch=branch, received_at=local(2026, 11, 6, 10))
    make_complaint(branch=other, received_at=local(2026, 11, 7, 10))

    def rows(**scope):
        return sorted(KpiSnapshot.objects.filter(**scope).values_list(
            "kpi__code", "scope", "branch_id", "relationship_manager_id", "dimension", "numerator",
            "denominator", "value", "target_id", "rag", "computed_at"), key=str)

    compute()
    full_branch = [row[:-1] for row in rows(scope=ScopeKind.BRANCH, branch_id=branch.pk)]
    assert {row[0] for row in full_branch} >= {"retention_rate", "satisfaction_rate", "complaint_rate"}
    assert any(row[4] for row in full_branch)  # a by-tier KPI's tier rows are there too

    # when a customer of the branch closes, a customer joins the other branch, and only the branch
    # is recomputed
    closed(date(2026, 11, 20), branch=branch)
    CustomerFactory(branch=other, customer_since=date(2026, 11, 4))
    others_before = rows(branch_id=other.pk) + rows(scope__in=[ScopeKind.BANK, ScopeKind.RM])
    written = services.kpi_snapshots_compute(period=NOVEMBER, branch_id=branch.pk)

    # then nothing else moved, and the branch's rows are what a full pass now writes for it
    alone = [row[:-1] for row in rows(scope=ScopeKind.BRANCH, branch_id=branch.pk)]
    assert rows(branch_id=other.pk) + rows(scope__in=[ScopeKind.BANK, ScopeKind.RM]) == others_before
    assert written == len(alone) and alone != full_branch
    compute()
    assert [row[:-1] for row in rows(scope=ScopeKind.BRANCH, branch_id=branch.pk)] == alone
