"""A branch manager reads the segment overview and drills down; an RM works the recommendations on the 360 page."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from crm_project.demo.catalogue import PRODUCTS
from segmentation import services
from segmentation.models import RecommendationFeedback
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def seed(branch):
    # A transactional test starts from an empty database: the policy v1 migration's row is gone.
    services.segmentation_defaults_ensure()
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    UserFactory(username="manager1", branch=branch, roles=[Role.BRANCH_MANAGER])
    products = {code: ProductFactory(code=code, name=name, category=category, risk_level=risk)
                for code, name, category, risk in PRODUCTS}
    now = timezone.now()
    baskets = [("DEP-CUR", "DEP-FIX1Y", "WM-FIX90"), ("DEP-CUR", "CD-CREDIT"), ("DEP-CUR", "DEP-FIX1Y", "IN-CI"),
               ("DEP-CUR", "WM-FIX90", "WM-MIX")]
    star = None
    for index in range(24):
        customer = CustomerFactory(branch=branch, relationship_manager=rm, risk_tolerance="R3",
                                   credit_rating="BB" if index % 7 == 0 else "A")
        for code in baskets[index % len(baskets)]:
            HoldingFactory(customer=customer, product=products[code], balance=Decimal(20_000 * (index + 1)))
        turnover = Decimal(60_000 * (index + 1))
        for month in range(4):
            TransactionFactory(customer=customer, amount=turnover / 4,
                               occurred_at=now - timedelta(days=20 + 30 * month))
        for _ in range(index % 7):
            InteractionFactory(customer=customer, occurred_at=now - timedelta(days=40))
        if index == 20:
            star = customer
    star.name = "王秀英"
    star.save(update_fields=["name"])
    return rm, star


def log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_overview_drill_down_and_recommendation_feedback(live_server, page, screenshot, branch):
    _rm, star = seed(branch)
    services.segmentation_run()
    services.segmentation_run()  # a second run, so the movement matrix has a "before"
    services.recommendation_run()

    log_in(page, live_server, "manager1")
    page.goto(f"{live_server.url}/segments/")
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    expect(page.get_by_text("Tier movement since the last full run")).to_be_visible()
    screenshot("segments-overview")

    page.locator("#counts-heading").locator("xpath=../..").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Customers by tier")).to_be_visible()
    screenshot("segments-customer-list")

    page.context.clear_cookies()
    log_in(page, live_server, "rm1")
    page.goto(f"{live_server.url}/customers/{star.pk}/")
    panel = page.locator("#segment-panel")
    expect(panel.get_by_text("Why this classification")).to_be_visible()
    expect(panel.get_by_text("VIP customer").first).to_be_visible()
    first = panel.locator("li.list-group-item").first
    first.get_by_role("button", name="Accepted").click()
    expect(first.page.locator("#segment-panel .badge", has_text=re.compile("^accepted$"))).to_be_visible()
    screenshot("segments-customer-360-panel")
    assert RecommendationFeedback.objects.filter(customer=star, outcome="accepted").count() == 1
