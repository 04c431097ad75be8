"""The classification pass: rules at their boundaries, versioned policy, history, incremental runs, overrides."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent
from customers.models import CreditRating, CustomerStatus, ProductCategory, TransactionDirection
from segmentation import selectors, services
from segmentation.models import (
    CustomerSegment,
    OverrideStatus,
    SegmentationRun,
    SegmentHistory,
    SegmentOverride,
)
from tests.customers.factories import HoldingFactory, ProductFactory, TransactionFactory
from tests.segmentation.conftest import AS_OF, classify, give_services, give_transactions, segment_of
from tests.service.factories import ServiceRecordFactory

pytestmark = pytest.mark.django_db


# --- Value --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "service_count", "value_class", "rule"),
    [
        ("1000000.00", 5, "important", "important_amount"),  # exactly 1,000,000 is not "more than"
        ("1000000.01", 5, "vip", "vip_amount_and_services"),  # a cent more is
        ("2000000.00", 4, "important", "important_amount"),  # 4 services are not enough
        ("2000000.00", 5, "vip", "vip_amount_and_services"),  # 5 are
        ("200000.00", 0, "general", "general_default"),  # important needs more than 200,000
        ("200000.01", 0, "important", "important_amount"),
    ],
)
def test_value_class_boundaries(policy, make_customer, amount, service_count, value_class, rule):
    """VIP = amount > 1,000,000 CNY and >= 5 service interactions in the last 12 months."""
    customer = make_customer()
    give_transactions(customer, amounts=[Decimal(amount) - 3, 1, 1, 1])
    give_services(customer, count=service_count)
    classify()
    segment = segment_of(customer)
    assert (segment.value_class, segment.value_rule) == (value_class, rule)
    assert segment.amount_cny == Decimal(amount)
    assert segment.service_count == service_count
    assert segment.policy == policy


def test_service_records_count_as_service_interactions(policy, make_customer):
    """4 interactions + 1 recorded service = 5 service interactions: enough for VIP; one outside the window is not."""
    customer = make_customer()
    give_transactions(customer, amounts=[2_000_000])
    give_services(customer, count=4)
    ServiceRecordFactory(customer=customer, started_at=AS_OF - timedelta(days=400))
    classify()
    assert (segment_of(customer).service_count, segment_of(customer).value_class) == (4, "important")
    ServiceRecordFactory(customer=customer, started_at=AS_OF - timedelta(days=30))
    classify()
    assert (segment_of(customer).service_count, segment_of(customer).value_class) == (5, "vip")


def test_only_the_last_12_months_count(policy, make_customer):
    """A transaction 366 days before as-of and an interaction 400 days before are outside the window."""
    customer = make_customer()
    give_transactions(customer, amounts=[2_000_000], days_ago=366)
    give_transactions(customer, amounts=[600_000, 600_000], days_ago=5)
    give_services(customer, count=5, days_ago=400)
    give_services(customer, count=4, days_ago=3)
    classify()
    segment = segment_of(customer)
    assert segment.amount_cny == Decimal("1200000")
    assert segment.service_count == 4
    assert segment.value_class == "important"


def test_assets_held_make_a_customer_important(policy, make_customer):
    customer = make_customer()
    HoldingFactory(customer=customer, product=ProductFactory(category=ProductCategory.DEPOSIT),
                   balance=Decimal("500000"))
    give_transactions(customer, amounts=[100, 100, 100])
    classify()
    assert (segment_of(customer).value_class, segment_of(customer).value_rule) == ("important", "important_assets")


# --- Behaviour ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts", "behaviour_class", "rule"),
    [
        ([20000, 20000, 10000], "active", "active_default"),  # 3 transactions, 50,000: active
        ([25000, 25000], "potential", "potential_default"),  # 2 transactions are not enough
        ([20000, 20000, "9999.99"], "potential", "potential_default"),  # a cent short of 50,000
    ],
)
def test_active_boundaries(policy, make_customer, amounts, behaviour_class, rule):
    customer = make_customer()
    give_transactions(customer, amounts=amounts)
    classify()
    assert (segment_of(customer).behaviour_class, segment_of(customer).behaviour_rule) == (behaviour_class, rule)


def test_churned_when_closed_or_silent(policy, make_customer):
    closed = make_customer(status=CustomerStatus.CLOSED, closed_on=(AS_OF - timedelta(days=30)).date())
    silent = make_customer()
    give_transactions(silent, amounts=[90000, 90000, 90000], days_ago=181)
    recent = make_customer()
    give_transactions(recent, amounts=[90000, 90000, 90000], days_ago=179)
    newcomer = make_customer(customer_since=(AS_OF - timedelta(days=30)).date())
    classify()
    assert segment_of(closed).behaviour_rule == "churned_closed"
    assert segment_of(silent).behaviour_rule == "churned_inactive"
    assert segment_of(recent).behaviour_class == "active"
    assert segment_of(newcomer).behaviour_rule == "potential_new"
    assert segment_of(closed).clv_cny == 0


def test_a_churned_vip_is_served_one_tier_lower(policy, make_customer):
    customer = make_customer()
    give_transactions(customer, amounts=[2_000_000], days_ago=200)
    give_services(customer, count=6, days_ago=100)
    classify()
    segment = segment_of(customer)
    assert (segment.value_class, segment.behaviour_class, segment.tier) == ("vip", "churned", "important")


# --- Risk ---------------------------------------------------------------------------------------


def test_risk_points(policy, make_customer):
    weak = make_customer(credit_rating=CreditRating.C)
    fair = make_customer(credit_rating=CreditRating.BB)
    clean = make_customer(credit_rating=CreditRating.AA)
    mover = make_customer(credit_rating=CreditRating.AA)
    give_transactions(mover, amounts=[500_000])  # one large single movement: 1 point
    for days_ago in range(5):  # five account changes (> 4): 1 point
        HoldingFactory(customer=mover, opened_on=(AS_OF - timedelta(days=10 + days_ago)).date())
    spender = make_customer(credit_rating=CreditRating.AA)
    HoldingFactory(customer=spender, balance=Decimal("99999"), opened_on=(AS_OF - timedelta(days=900)).date())
    give_transactions(spender, amounts=[50_000] * 12, direction=TransactionDirection.OUT)  # 50,000 a month > 50 %
    even = make_customer(credit_rating=CreditRating.AA)
    HoldingFactory(customer=even, balance=Decimal("100000"), opened_on=(AS_OF - timedelta(days=900)).date())
    give_transactions(even, amounts=[50_000] * 12, direction=TransactionDirection.OUT)  # exactly 50 %: no signal
    classify()
    assert (segment_of(weak).risk_class, segment_of(weak).risk_points) == ("high", 2)
    assert (segment_of(fair).risk_class, segment_of(fair).risk_points) == ("medium", 1)
    assert (segment_of(clean).risk_class, segment_of(clean).risk_points) == ("low", 0)
    assert (segment_of(mover).risk_class, segment_of(mover).risk_points) == ("high", 2)
    assert segment_of(spender).monthly_outflow_cny == Decimal("50000.00")
    assert (segment_of(spender).risk_class, segment_of(spender).risk_points) == ("medium", 1)
    assert segment_of(even).risk_points == 0


# --- CLV ----------------------------------------------------------------------------------------


def test_clv_formula(policy, make_customer):
    """CLV = margin x q(1 - q^H)/(1 - q), q = retention / (1 + discount); margin 1.5 % of deposits."""
    customer = make_customer()
    HoldingFactory(customer=customer, product=ProductFactory(category=ProductCategory.DEPOSIT),
                   balance=Decimal("1000000"))
    give_transactions(customer, amounts=[100, 100, 100])
    classify()
    segment = segment_of(customer)
    assert segment.tier == "important"
    assert segment.annual_margin_cny == Decimal("15000.00")
    assert segment.retention_pct == Decimal("85")
    q = 0.85 / 1.08
    assert float(segment.clv_cny) == pytest.approx(15000 * q * (1 - q**10) / (1 - q), abs=0.01)


# --- Policy versions ----------------------------------------------------------------------------


def test_policy_change_is_a_new_version_and_old_results_keep_theirs(policy, make_customer, user_for_role):
    customer = make_customer()
    give_transactions(customer, amounts=[1_500_000])
    give_services(customer, count=4)
    classify()
    first = segment_of(customer)
    assert first.value_class == "important"

    new_policy = services.segmentation_policy_create(by=user_for_role("admin"), vip_min_services=4)
    classify()

    assert new_policy.version == policy.version + 1
    policy.refresh_from_db()
    assert policy.vip_min_services == 5  # the old version never changes
    assert segment_of(customer).value_class == "vip"
    assert segment_of(customer).policy == new_policy
    versions = list(SegmentHistory.objects.filter(customer=customer).order_by("id").values_list("policy__version",
                                                                                              flat=True))
    assert versions == [policy.version, new_policy.version]
    assert AuditEvent.objects.filter(action=services.AUDIT_POLICY_CREATE).count() == 1


def test_only_an_admin_creates_a_policy_version(policy, user_for_role):
    with pytest.raises(ApplicationError) as error:
        services.segmentation_policy_create(by=user_for_role("branch_manager"), vip_min_services=3)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    with pytest.raises(ApplicationError):
        services.segmentation_policy_create(by=user_for_role("admin"), churn_inactive_days=400)


# --- History, re-runs, incremental runs ---------------------------------------------------------


def test_history_row_per_change_and_idempotent_rerun(policy, make_customer):
    customer = make_customer()
    give_transactions(customer, amounts=[300_000])
    classify()
    classify()  # nothing changed: no new history, same values
    assert SegmentHistory.objects.filter(customer=customer).count() == 1
    first = SegmentHistory.objects.get(customer=customer)
    assert (first.from_tier, first.to_tier, first.from_tier_rank) == ("", "important", 0)

    give_transactions(customer, amounts=[800_000])
    give_services(customer, count=5)
    classify()
    latest = SegmentHistory.objects.filter(customer=customer).order_by("-id").first()
    assert (latest.from_tier, latest.to_tier, latest.moved_up) == ("important", "vip", True)
    assert selectors.tier_moves_up_count(since=AS_OF - timedelta(days=1), until=AS_OF + timedelta(days=1)) == 1


def test_the_pass_issues_a_constant_number_of_queries(policy, make_customer):
    """Set-based: the same statements for 2 customers or 20."""

    def count_queries(customers: int) -> int:
        for _ in range(customers):
            give_transactions(make_customer(), amounts=[60_000, 1, 1])
        with CaptureQueriesContext(connection) as queries:
            classify()
        return len(queries)

    assert count_queries(2) == count_queries(18)


SNAPSHOT_FIELDS = ("value_class", "behaviour_class", "risk_class", "computed_tier", "tier", "value_rule",
                   "behaviour_rule", "amount_cny", "transaction_count", "service_count", "last_transaction_at",
                   "assets_cny", "large_movements", "monthly_outflow_cny", "account_changes", "risk_points",
                   "annual_margin_cny", "retention_pct", "clv_cny")


def snapshot() -> dict:
    return {row["customer_id"]: row for row in CustomerSegment.objects.values("customer_id", *SNAPSHOT_FIELDS)}


def test_incremental_recompute_equals_full_recompute(policy, make_customer):
    customers = [make_customer(credit_rating=rating) for rating in ("AA", "BB", "C", "A")]
    for index, customer in enumerate(customers):
        give_transactions(customer, amounts=[100_000 * (index + 1)])
        HoldingFactory(customer=customer, balance=Decimal(200_000 * index))
    classify()

    give_transactions(customers[0], amounts=[1_000_000, 5_000])
    give_services(customers[0], count=5)
    give_transactions(customers[2], amounts=[600_000], direction=TransactionDirection.OUT)
    classify(customer_ids=[customers[0].pk, customers[2].pk])
    incremental = snapshot()
    history_after_incremental = SegmentHistory.objects.count()

    classify()
    assert snapshot() == incremental
    assert SegmentHistory.objects.count() == history_after_incremental
    assert segment_of(customers[0]).tier == "vip"


def test_touched_customers_are_reclassified(policy, make_customer):
    quiet, busy = make_customer(), make_customer()
    classify()
    TransactionFactory(customer=busy, amount=Decimal("300000"), occurred_at=timezone.now() - timedelta(days=1))
    result = services.segmentation_run_touched()
    assert result is not None
    assert result.customers_classified == 1
    assert SegmentationRun.objects.order_by("-id").first().kind == SegmentationRun.Kind.INCREMENTAL
    assert services.segmentation_run_touched() is None  # nothing new since
    assert segment_of(quiet).as_of == AS_OF


def test_a_failed_run_is_recorded_and_the_lock_released(policy, make_customer, monkeypatch):
    make_customer()
    monkeypatch.setattr(services, "_write_segments", lambda **kwargs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        classify()
    run = SegmentationRun.objects.order_by("-id").first()
    assert run.status == "failed" and "ZeroDivisionError" in run.error
    monkeypatch.undo()
    classify()  # the advisory lock was released
    assert SegmentationRun.objects.order_by("-id").first().status == "done"


# --- Overrides (maker-checker) ------------------------------------------------------------------


@pytest.fixture
def classified(policy, make_customer, make_user):
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_maker")
    customer = make_customer(relationship_manager=rm)
    give_transactions(customer, amounts=[100])
    classify()
    return customer, rm


def test_override_needs_approval_by_another_branch_manager(classified, make_user):
    customer, rm = classified
    today = timezone.localdate()
    override = services.segment_override_propose(customer=customer, by=rm, tier="vip", reason="Family office client",
                                                 expires_on=today + timedelta(days=30))
    assert segment_of(customer).tier == "general"  # nothing changes before approval

    with pytest.raises(ApplicationError):
        services.segment_override_approve(override_id=override.pk, by=rm)  # RMs are makers only
    other_branch_manager = make_user(Role.BRANCH_MANAGER, username="bm_other", branch=None)
    with pytest.raises(SegmentOverride.DoesNotExist):
        services.segment_override_approve(override_id=override.pk, by=other_branch_manager)

    manager = make_user(Role.BRANCH_MANAGER, username="bm_checker")
    services.segment_override_approve(override_id=override.pk, by=manager)
    segment = selectors.segment_for(customer=customer)
    assert (segment.tier, segment.computed_tier, segment.override_id) == ("vip", "general", override.pk)
    change = SegmentHistory.objects.filter(customer=customer).order_by("-id").first()
    assert (change.from_tier, change.to_tier, change.override_id) == ("general", "vip", override.pk)
    assert set(AuditEvent.objects.filter(target_id=str(override.pk)).values_list("action", flat=True)) == {
        services.AUDIT_OVERRIDE_PROPOSE, services.AUDIT_OVERRIDE_APPROVE,
    }
    classify(as_of=timezone.now())  # the nightly pass keeps an override in force
    assert segment_of(customer).tier == "vip"


def test_the_proposer_cannot_approve_their_own_override(classified, make_user):
    customer, _rm = classified
    manager = make_user(Role.BRANCH_MANAGER, username="bm_maker")
    override = services.segment_override_propose(customer=customer, by=manager, tier="important", reason="x",
                                                 expires_on=timezone.localdate() + timedelta(days=5))
    with pytest.raises(ApplicationError) as error:
        services.segment_override_approve(override_id=override.pk, by=manager)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    override.refresh_from_db()
    assert override.status == OverrideStatus.PROPOSED


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"reason": "  "}, "reason"), ({"tier": "platinum"}, "tier"), ({"expires_days": -1}, "expires_on"),
     ({"expires_days": 400}, "expires_on")],
)
def test_override_input_is_checked(classified, changes, field):
    customer, rm = classified
    with pytest.raises(ApplicationError) as error:
        services.segment_override_propose(
            customer=customer, by=rm, tier=changes.get("tier", "vip"), reason=changes.get("reason", "why"),
            expires_on=timezone.localdate() + timedelta(days=changes.get("expires_days", 10)),
        )
    assert field in error.value.field_errors
    assert not SegmentOverride.objects.exists()


def test_an_expired_override_no_longer_counts(classified, make_user):
    customer, rm = classified
    manager = make_user(Role.BRANCH_MANAGER, username="bm_checker")
    today = timezone.localdate()
    override = services.segment_override_propose(customer=customer, by=rm, tier="vip", reason="Event",
                                                 expires_on=today + timedelta(days=2))
    services.segment_override_approve(override_id=override.pk, by=manager)
    assert selectors.segment_for(customer=customer).tier == "vip"

    SegmentOverride.objects.filter(pk=override.pk).update(starts_on=today - timedelta(days=10),
                                                          expires_on=today - timedelta(days=1))
    assert selectors.segment_for(customer=customer).tier == "general"  # at once, before any pass
    classify(as_of=timezone.now())
    segment = segment_of(customer)
    assert (segment.tier, segment.override_id) == ("general", None)


def test_a_rejected_override_changes_nothing(classified, make_user):
    customer, rm = classified
    override = services.segment_override_propose(customer=customer, by=rm, tier="vip", reason="Event",
                                                 expires_on=timezone.localdate() + timedelta(days=2))
    services.segment_override_reject(override_id=override.pk, by=make_user(Role.BRANCH_MANAGER, username="bm2"),
                                     note="not justified")
    override.refresh_from_db()
    assert override.status == OverrideStatus.REJECTED
    assert segment_of(customer).tier == "general"
    with pytest.raises(ApplicationError) as error:
        services.segment_override_approve(override_id=override.pk, by=make_user(Role.ADMIN, username="adm"))
    assert error.value.code == ErrorCode.INVALID_TRANSITION
