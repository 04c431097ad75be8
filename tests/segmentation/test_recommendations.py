"""Recommendations: collaborative filtering, suitability never violated, strategy, evaluation; value-class property."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

from customers.models import ProductCategory, RiskLevel
from segmentation import recommending, services
from segmentation.models import TIER_RANK, Recommendation, RecommendationReason, ServiceStrategy, Tier
from tests.customers.factories import HoldingFactory, ProductFactory, TransactionFactory
from tests.segmentation.conftest import AS_OF, classify, segment_of

pytestmark = pytest.mark.django_db

RISK_RANK = {level.value: rank for rank, level in enumerate(RiskLevel, start=1)}


@pytest.fixture
def catalogue(db):
    return {
        "current": ProductFactory(code="DEP-CUR", category=ProductCategory.DEPOSIT, risk_level="R1"),
        "fixed": ProductFactory(code="DEP-FIX", category=ProductCategory.DEPOSIT, risk_level="R1"),
        "card": ProductFactory(code="CD-CREDIT", category=ProductCategory.CARD, risk_level="R1"),
        "balanced": ProductFactory(code="WM-MIX", category=ProductCategory.WEALTH, risk_level="R3"),
        "equity": ProductFactory(code="WM-EQ", category=ProductCategory.WEALTH, risk_level="R5"),
        "mortgage": ProductFactory(code="LN-MORT", category=ProductCategory.LOAN, risk_level="R1"),
    }


def test_item_to_item_cf_recommends_what_similar_holders_hold(policy, make_customer, catalogue):
    for _ in range(5):  # holders of the current account mostly also have the fixed deposit and equity fund
        customer = make_customer()
        for name in ("current", "fixed", "equity"):
            HoldingFactory(customer=customer, product=catalogue[name])
    card_holder = make_customer()
    HoldingFactory(customer=card_holder, product=catalogue["card"])
    target = make_customer(risk_tolerance="R2")
    HoldingFactory(customer=target, product=catalogue["current"])
    classify()
    services.recommendation_run()

    recommendations = list(Recommendation.objects.filter(customer=target).select_related("product"))
    assert recommendations[0].product == catalogue["fixed"]
    assert recommendations[0].reason == RecommendationReason.SIMILAR_HOLDERS
    assert recommendations[0].because_product == catalogue["current"]
    codes = {r.product.code for r in recommendations}
    assert "WM-EQ" not in codes  # R5 exceeds the customer's R2 tolerance
    assert "DEP-CUR" not in codes  # already held
    assert "LN-MORT" not in codes  # general tier: loans are not in its strategy
    assert [r.rank for r in recommendations] == list(range(1, len(recommendations) + 1))


def test_a_customer_holding_nothing_gets_popular_products(policy, make_customer, catalogue):
    for _ in range(3):
        HoldingFactory(customer=make_customer(), product=catalogue["card"])
    newcomer = make_customer(risk_tolerance="")
    classify()
    services.recommendation_run()
    first = Recommendation.objects.filter(customer=newcomer).order_by("rank").first()
    assert (first.product, first.reason, first.because_product) == (catalogue["card"], "popular", None)
    # No recorded risk tolerance: R1 products only.
    assert set(Recommendation.objects.filter(customer=newcomer).values_list("product__risk_level", flat=True)) == {"R1"}


def test_recomputing_replaces_and_incremental_touches_only_the_given(policy, make_customer, catalogue):
    a, b = make_customer(), make_customer()
    HoldingFactory(customer=a, product=catalogue["current"])
    HoldingFactory(customer=b, product=catalogue["fixed"])
    classify()
    services.recommendation_run()
    services.recommendation_run()
    assert Recommendation.objects.filter(customer=a).count() == Recommendation.objects.filter(customer=a).values(
        "rank").distinct().count()
    b_before = set(Recommendation.objects.filter(customer=b).values_list("pk", flat=True))
    services.recommendation_run(customer_ids=[a.pk])
    assert set(Recommendation.objects.filter(customer=b).values_list("pk", flat=True)) == b_before


@settings(max_examples=60, deadline=None)
@given(
    holdings=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=30),
    tolerances=st.lists(st.integers(min_value=0, max_value=5), min_size=30, max_size=30),
    tiers=st.lists(st.integers(min_value=0, max_value=2), min_size=30, max_size=30),
)
def test_suitability_held_and_strategy_are_never_violated(holdings, tolerances, tiers):
    """Whatever the holdings: no product above the tolerance, none already held, none outside the tier's categories."""
    risk_rank = np.array([1, 1, 1, 3, 5, 2], dtype=np.int8)
    categories = ["deposit", "deposit", "card", "wealth", "wealth", "loan"]
    products = recommending.Products(ids=np.arange(1, 7, dtype=np.int64), risk_rank=risk_rank,
                                     categories=categories, on_sale=np.array([True] * 5 + [False]))
    held = sparse.csr_matrix(np.array(holdings, dtype=np.float32))
    count = held.shape[0]
    tolerance = np.array(tolerances[:count], dtype=np.int8)  # 0: not recorded -> treated as R1 by the loader
    tolerance = np.maximum(tolerance, 1)
    tier_index = np.array(tiers[:count], dtype=np.int64)
    tier_categories = np.array([[True] * 6, [True] * 6, [c in ("deposit", "card") for c in categories]])
    eligible = recommending.eligibility(tolerance_rank=tolerance, tier_index=tier_index, products=products,
                                        tier_categories=tier_categories)
    similarity = recommending.item_similarity(held)
    order, _scores, _similar, _because, valid = recommending.recommend_block(
        held=held, similarity=similarity, product_popularity=recommending.popularity(held), eligible=eligible,
        top_n=3,
    )
    dense = held.toarray() > 0
    for row in range(count):
        for position in range(3):
            if not valid[row, position]:
                continue
            column = order[row, position]
            assert risk_rank[column] <= tolerance[row]
            assert not dense[row, column]
            assert tier_categories[tier_index[row], column]
            assert products.on_sale[column]


def test_unsuitable_products_are_never_written(policy, make_customer, catalogue):
    """End to end on the database: every written recommendation is within the customer's tolerance."""
    for tolerance in ("", "R1", "R2", "R3", "R4", "R5"):
        for _ in range(2):
            customer = make_customer(risk_tolerance=tolerance)
            HoldingFactory(customer=customer, product=catalogue["equity"])
            HoldingFactory(customer=customer, product=catalogue["current"])
    classify()
    services.recommendation_run()
    rows = Recommendation.objects.values_list("customer__risk_tolerance", "product__risk_level")
    assert rows
    for tolerance, level in rows:
        assert RISK_RANK[level] <= RISK_RANK.get(tolerance, 1)


def test_strategy_edits_change_eligibility(policy, make_customer, catalogue):
    ServiceStrategy.objects.filter(tier=Tier.GENERAL).update(eligible_categories=["card"])
    for _ in range(2):
        customer = make_customer()
        HoldingFactory(customer=customer, product=catalogue["current"])
        HoldingFactory(customer=customer, product=catalogue["fixed"])
    classify()
    services.recommendation_run()
    assert set(Recommendation.objects.values_list("product__category", flat=True)) <= {"card"}


def test_offline_evaluation_prints_both_hit_rates(policy, make_customer, catalogue):
    for index in range(40):
        customer = make_customer(risk_tolerance="R5")
        names = ("current", "fixed", "card") if index % 2 else ("current", "balanced", "equity")
        for name in names:
            HoldingFactory(customer=customer, product=catalogue[name])
    out = StringIO()
    call_command("evaluate_recommendations", "--sample", "30", "--seed", "3", stdout=out)
    text = out.getvalue()
    assert "Customers evaluated: 30" in text
    assert "Item-to-item CF      hit rate@3:" in text and "Most popular products hit rate@3:" in text


# --- A property of the classification itself ------------------------------------------------------


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    base_cny=st.decimals(min_value=0, max_value=3_000_000, places=2),
    extra_cny=st.decimals(min_value=Decimal("0.01"), max_value=2_000_000, places=2),
    service_count=st.integers(min_value=0, max_value=7),
)
def test_more_amount_never_lowers_the_value_class(policy, make_customer, base_cny, extra_cny, service_count):
    customer = make_customer()
    for _ in range(service_count):
        customer.interactions.create(kind="call", occurred_at=AS_OF - timedelta(days=3), summary="x",
                                     outcome="informed")
    if base_cny > 0:
        TransactionFactory(customer=customer, amount=base_cny, occurred_at=AS_OF - timedelta(days=5))
    classify(customer_ids=[customer.pk])
    before = TIER_RANK[Tier(segment_of(customer).value_class)]
    TransactionFactory(customer=customer, amount=extra_cny, occurred_at=AS_OF - timedelta(days=4))
    classify(customer_ids=[customer.pk])
    assert TIER_RANK[Tier(segment_of(customer).value_class)] >= before


# --- Declined products cool off (issue 19) ------------------------------------------------------


def _decline(customer, product, *, days_ago: int, outcome="declined"):
    from django.utils import timezone

    from segmentation.models import RecommendationFeedback

    return RecommendationFeedback.objects.create(
        customer=customer, product=product, outcome=outcome, rank=1, score=1.0, reason="popular",
        recorded_at=timezone.now() - timedelta(days=days_ago),
    )


def test_a_declined_product_is_not_recommended_during_the_cooloff(policy, make_customer, catalogue):
    """Given a customer who declined the card 10 days ago (cool-off 90 days), the next run leaves it out."""
    for _ in range(3):
        HoldingFactory(customer=make_customer(), product=catalogue["card"])
    customer = make_customer(risk_tolerance="R2")
    other = make_customer(risk_tolerance="R2")
    _decline(customer, catalogue["card"], days_ago=10)
    classify()

    services.recommendation_run()

    assert catalogue["card"].pk not in set(Recommendation.objects.filter(customer=customer)
                                           .values_list("product_id", flat=True))
    assert catalogue["card"].pk in set(Recommendation.objects.filter(customer=other)
                                       .values_list("product_id", flat=True))


def test_a_decline_older_than_the_cooloff_or_followed_by_acceptance_no_longer_excludes(policy, make_customer,
                                                                                       catalogue):
    for _ in range(3):
        HoldingFactory(customer=make_customer(), product=catalogue["card"])
    old, changed_mind = make_customer(risk_tolerance="R2"), make_customer(risk_tolerance="R2")
    _decline(old, catalogue["card"], days_ago=policy.declined_cooloff_days + 5)
    _decline(changed_mind, catalogue["card"], days_ago=20)
    _decline(changed_mind, catalogue["card"], days_ago=5, outcome="offered")
    classify()

    services.recommendation_run()

    for customer in (old, changed_mind):
        assert Recommendation.objects.filter(customer=customer, product=catalogue["card"]).exists()


def test_the_cooloff_is_policy_data(policy, make_customer, catalogue, make_user):
    from accounts.models import Role

    for _ in range(3):
        HoldingFactory(customer=make_customer(), product=catalogue["card"])
    customer = make_customer(risk_tolerance="R2")
    _decline(customer, catalogue["card"], days_ago=10)
    services.segmentation_policy_create(by=make_user(Role.ADMIN), declined_cooloff_days=7)
    classify()

    services.recommendation_run()

    assert Recommendation.objects.filter(customer=customer, product=catalogue["card"]).exists()


def test_the_rm_sees_why_a_declined_product_is_not_offered(policy, make_customer, catalogue, client, make_user):
    from django.urls import reverse

    from accounts.models import Role

    rm = make_user(Role.RELATIONSHIP_MANAGER)
    customer = make_customer(relationship_manager=rm)
    _decline(customer, catalogue["card"], days_ago=10)
    client.force_login(rm)

    from django.conf import settings as django_settings

    client.cookies.load({django_settings.LANGUAGE_COOKIE_NAME: "en"})
    page = client.get(reverse("customers:customer-detail", args=[customer.pk]))
    client.cookies.load({django_settings.LANGUAGE_COOKIE_NAME: "zh-hans"})
    zh = client.get(reverse("customers:customer-detail", args=[customer.pk]))

    assert "Not offered: declined recently" in page.content.decode()
    assert catalogue["card"].name in page.content.decode()
    assert "recommended again from" in page.content.decode()
    assert "近期已拒绝" in zh.content.decode()
