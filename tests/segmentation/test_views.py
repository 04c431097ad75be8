"""Segmentation pages: the role matrix on every page, scope (404 for foreign customers), query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from segmentation import services
from segmentation.models import (
    OverrideStatus,
    Recommendation,
    RecommendationFeedback,
    SegmentCount,
    SegmentOverride,
    Tier,
)
from tests.accounts.factories import BranchFactory
from tests.customers.factories import CustomerFactory, HoldingFactory, ProductFactory
from tests.segmentation.conftest import classify, give_services, give_transactions

pytestmark = pytest.mark.django_db

ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def world(policy, branch, make_user, make_customer):
    """An RM's customer in our branch (VIP, with recommendations) and a customer of another branch."""
    owner = make_user(Role.RELATIONSHIP_MANAGER, username="owner_rm")
    customer = make_customer(relationship_manager=owner, risk_tolerance="R3")
    give_transactions(customer, amounts=[700_000, 700_000])
    give_services(customer, count=5)
    products = [ProductFactory(code=f"DEP{i}", category="deposit", risk_level="R1") for i in range(3)]
    wealth = ProductFactory(code="WM-HI", category="wealth", risk_level="R5")
    for index in range(6):
        other = make_customer()
        for product in products[: 2 + index % 2]:
            HoldingFactory(customer=other, product=product)
        HoldingFactory(customer=other, product=wealth)
    HoldingFactory(customer=customer, product=products[0], balance=Decimal("50000"))
    foreign = CustomerFactory(branch=BranchFactory(code="B0999", name="Other Branch"))
    classify()
    services.recommendation_run()
    return {"owner": owner, "customer": customer, "foreign": foreign}


def login(client, user):
    client.force_login(user)
    return client


def as_role(client, make_user, world, role):
    if role == "rm":
        return login(client, world["owner"])
    if role is None:
        return client
    user = make_user({"branch_manager": Role.BRANCH_MANAGER, "complaint_desk": Role.COMPLAINT_DESK,
                      "auditor": Role.COMPLIANCE_AUDITOR, "admin": Role.ADMIN}[role], username=f"{role}_x")
    return login(client, user)


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 403), ("branch_manager", 200), ("complaint_desk", 403), ("auditor", 200), ("admin", 200),
])
def test_overview_roles(client, make_user, world, role, status):
    response = as_role(client, make_user, world, role).get(reverse("segmentation:segment-overview"))
    assert response.status_code == status
    if status == 200:
        content = response.content.decode()
        assert "VIP customer" in content and "Tier movement since the last full run" in content


def test_overview_counts_only_the_branch_for_a_branch_manager(client, make_user, world):
    response = as_role(client, make_user, world, "branch_manager").get(reverse("segmentation:segment-overview"))
    assert "Other Branch" not in response.content.decode()
    response = as_role(client, make_user, world, "admin").get(reverse("segmentation:segment-overview"))
    assert "Other Branch" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 200), ("branch_manager", 200), ("complaint_desk", 403), ("auditor", 200), ("admin", 200),
])
def test_customer_list_roles(client, make_user, world, role, status):
    response = as_role(client, make_user, world, role).get(
        reverse("segmentation:segment-customer-list") + "?tier=vip"
    )
    assert response.status_code == status
    if status == 200:
        content = response.content.decode()
        assert reverse("customers:customer-detail", args=[world["customer"].pk]) in content


def test_customer_list_filters_and_scopes(client, make_user, world):
    rm_client = as_role(client, make_user, world, "rm")
    content = rm_client.get(reverse("segmentation:segment-customer-list") + "?tier=general").content.decode()
    assert world["customer"].external_id not in content
    admin_content = as_role(client, make_user, world, "admin").get(
        reverse("segmentation:segment-customer-list") + "?tier=general").content.decode()
    assert world["foreign"].external_id in admin_content


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 200), ("branch_manager", 200), ("complaint_desk", 403), ("auditor", 403), ("admin", 403),
])
def test_override_propose_page_roles(client, make_user, world, role, status):
    url = reverse("segmentation:override-propose", args=[world["customer"].pk])
    assert as_role(client, make_user, world, role).get(url).status_code == status


def test_override_propose_for_a_foreign_customer_is_404(client, make_user, world):
    url = reverse("segmentation:override-propose", args=[world["foreign"].pk])
    assert as_role(client, make_user, world, "rm").get(url).status_code == 404


def test_propose_then_approve_through_the_pages(client, make_user, world):
    rm_client = as_role(client, make_user, world, "rm")
    today = timezone.localdate()
    response = rm_client.post(reverse("segmentation:override-propose", args=[world["customer"].pk]), {
        "tier": "important", "reason": "Moving abroad", "starts_on": today.isoformat(),
        "expires_on": (today + timedelta(days=30)).isoformat(),
    })
    assert response.status_code == 302
    override = SegmentOverride.objects.get()
    manager_client = as_role(client, make_user, world, "branch_manager")
    assert "Moving abroad" in manager_client.get(reverse("segmentation:override-list")).content.decode()
    response = manager_client.post(reverse("segmentation:override-decide", args=[override.pk]), {"decision": "approve"})
    assert response.status_code == 302
    override.refresh_from_db()
    assert override.status == OverrideStatus.APPROVED


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 403), ("branch_manager", 200), ("complaint_desk", 403), ("auditor", 403), ("admin", 200),
])
def test_override_list_roles(client, make_user, world, role, status):
    assert as_role(client, make_user, world, role).get(reverse("segmentation:override-list")).status_code == status


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 403), ("complaint_desk", 403), ("auditor", 403), ("branch_manager", 302), ("admin", 302),
])
def test_override_decide_roles(client, make_user, world, role, status):
    override = services.segment_override_propose(customer=world["customer"], by=world["owner"], tier="vip",
                                                 reason="x", expires_on=timezone.localdate() + timedelta(days=3))
    response = as_role(client, make_user, world, role).post(
        reverse("segmentation:override-decide", args=[override.pk]), {"decision": "reject"})
    assert response.status_code == status
    override.refresh_from_db()
    decided = role in ("branch_manager", "admin")
    assert override.status == (OverrideStatus.REJECTED if decided else OverrideStatus.PROPOSED)


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("rm", 200), ("branch_manager", 200), ("complaint_desk", 403), ("auditor", 403), ("admin", 403),
])
def test_feedback_roles(client, make_user, world, role, status):
    recommendation = Recommendation.objects.filter(customer=world["customer"]).first()
    response = as_role(client, make_user, world, role).post(
        reverse("segmentation:recommendation-feedback", args=[world["customer"].pk, recommendation.pk]),
        {"outcome": "accepted"}, HTTP_HX_REQUEST="true",
    )
    assert response.status_code == status
    assert RecommendationFeedback.objects.count() == (1 if status == 200 else 0)
    if status == 200:
        feedback = RecommendationFeedback.objects.get()
        assert (feedback.outcome, feedback.product_id, feedback.rank) == (
            "accepted", recommendation.product_id, recommendation.rank)
        assert "accepted" in response.content.decode()


def test_feedback_on_a_foreign_customer_is_404(client, make_user, world):
    recommendation = Recommendation.objects.filter(customer=world["customer"]).first()
    other_rm = make_user(Role.RELATIONSHIP_MANAGER, username="other_rm")
    response = login(client, other_rm).post(
        reverse("segmentation:recommendation-feedback", args=[world["customer"].pk, recommendation.pk]),
        {"outcome": "offered"})
    assert response.status_code == 404
    assert not RecommendationFeedback.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_360_panel_shows_tier_and_why(client, make_user, world, role):
    response = as_role(client, make_user, world, role).get(
        reverse("customers:customer-detail", args=[world["customer"].pk]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Classification and tier" in content and "VIP customer" in content
    assert "VIP: more than 1,000,000.00 CNY" in content  # the figures against the thresholds
    assert "Service strategy" in content and "Customer lifetime value (CLV)" in content
    shows_recommendations = role in ("rm", "branch_manager", "auditor", "admin")
    assert ("Recommendations" in content) == shows_recommendations
    assert ("Propose a tier override" in content) == (role in ("rm", "branch_manager"))


def test_nav_link(client, make_user, world):
    page = reverse("customers:customer-list")
    content = as_role(client, make_user, world, "branch_manager").get(page).content.decode()
    assert reverse("segmentation:segment-overview") in content
    content = as_role(client, make_user, world, "complaint_desk").get(page).content.decode()
    assert reverse("segmentation:segment-overview") not in content


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_page_query_counts_do_not_grow_with_rows(client, make_user, world, make_customer):
    manager_client = as_role(client, make_user, world, "branch_manager")
    urls = [reverse("segmentation:segment-overview"), reverse("segmentation:segment-customer-list"),
            reverse("customers:customer-detail", args=[world["customer"].pk]), reverse("segmentation:override-list")]
    before = [_queries(manager_client, url) for url in urls]
    for index in range(25):
        customer = make_customer(relationship_manager=world["owner"])
        give_transactions(customer, amounts=[10_000 * (index + 1)] * 3)
        services.segment_override_propose(customer=customer, by=world["owner"], tier="vip", reason="x",
                                          expires_on=timezone.localdate() + timedelta(days=3))
    classify()
    services.recommendation_run()
    assert [_queries(manager_client, url) for url in urls] == before


def test_overview_movement_matrix_counts_moves_of_the_last_full_run(client, make_user, world, make_customer):
    climber = make_customer(relationship_manager=world["owner"])
    give_transactions(climber, amounts=[300_000])
    classify()
    give_transactions(climber, amounts=[900_000])
    give_services(climber, count=5)
    classify()
    response = as_role(client, make_user, world, "branch_manager").get(reverse("segmentation:segment-overview"))
    assert response.context["moved_up"] == 1 and response.context["moved_down"] == 0
    rows = {row["from_label"]: {tier: count for tier, count, _same in row["cells"]}
            for row in response.context["movement_rows"]}
    assert rows["important customer"]["vip"] == 1
    assert rows["VIP customer"]["vip"] == 1  # the world's VIP stayed


def test_overview_reads_the_run_counts_never_the_segments(client, make_user, world):
    """/segments/ counts from SegmentCount (a few hundred rows), not by counting every customer's segment."""
    admin = as_role(client, make_user, world, "admin")
    with CaptureQueriesContext(connection) as queries:
        response = admin.get(reverse("segmentation:segment-overview"))

    assert response.status_code == 200
    assert not [q["sql"] for q in queries if "segmentation_customersegment" in q["sql"]]
    assert response.context["grand_total"] == sum(SegmentCount.objects.values_list("customers", flat=True)) > 0


def test_an_approved_override_updates_the_overview_counts(client, make_user, world):
    customer = world["customer"]
    before = dict(SegmentCount.objects.filter(branch_id=customer.branch_id).values_list("tier").annotate(
        n=Sum("customers")))
    current = customer.segment.tier
    target = Tier.VIP if current != Tier.VIP else Tier.GENERAL
    today = timezone.localdate()
    override = services.segment_override_propose(
        customer=customer, tier=target, reason="test", starts_on=today, expires_on=today + timedelta(days=30),
        by=world["owner"])
    manager = make_user(Role.BRANCH_MANAGER, username="approver", branch=customer.branch)
    services.segment_override_approve(override_id=override.pk, by=manager)

    after = dict(SegmentCount.objects.filter(branch_id=customer.branch_id).values_list("tier").annotate(
        n=Sum("customers")))
    assert after.get(target, 0) == before.get(target, 0) + 1
    assert after.get(current, 0) == before.get(current, 0) - 1
def test_overview_draws_a_chart_of_customers_per_branch_and_tier(client, make_user, world, make_customer):
    make_customer(relationship_manager=world["owner"])
    classify()

    response = as_role(client, make_user, world, "admin").get(reverse("segmentation:segment-overview"))

    content = response.content.decode()
    assert 'data-chart="tier-chart-data"' in content and 'id="tier-chart-data"' in content
    chart = response.context["tier_chart"]
    assert chart["stacked"] and len(chart["datasets"]) == 3
    assert sum(sum(dataset["data"]) for dataset in chart["datasets"]) == response.context["grand_total"]
