"""An RM logs in, finds a customer, reveals the phone number to call, and records the visit."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from core.models import AuditEvent
from customers.models import Interaction
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_rm_searches_reveals_phone_and_records_a_visit(live_server, page, screenshot, branch):
    # given rm1 with two customers, and another RM's customer rm1 must not find
    rm1 = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    other_rm = UserFactory(username="rm2", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(name="王秀英", phone="13812345678", branch=branch, relationship_manager=rm1)
    CustomerFactory(name="李娜", branch=branch, relationship_manager=rm1)
    CustomerFactory(name="王芳", branch=branch, relationship_manager=other_rm)

    # when rm1 logs in
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # then they land on their dashboard, and go to their customers through the menu
    expect(page).to_have_url(re.compile(r"/$"))
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Customers", exact=True).click()
    expect(page).to_have_url(re.compile(r"/customers/$"))
    screenshot("rm-customer-list")

    # and searches by name: their own 王秀英 is listed, rm2's 王芳 is not
    page.get_by_label("Name or customer number").fill("王")
    page.get_by_role("button", name="Search").click()
    results = page.locator("#customer-results")
    expect(results.get_by_role("link", name="王秀英")).to_be_visible()
    expect(results.get_by_text("王芳")).to_have_count(0)

    # and opens the customer 360: the phone is masked
    results.get_by_role("link", name="王秀英").click()
    expect(page.get_by_role("heading", name=re.compile("王秀英"))).to_be_visible()
    expect(page.get_by_text("138****5678")).to_be_visible()
    assert "13812345678" not in page.content()
    screenshot("rm-customer-360")

    # and reveals the phone number to call
    page.get_by_role("button", name=re.compile(r"Reveal Mobile phone", re.IGNORECASE)).click()
    expect(page.get_by_text("13812345678")).to_be_visible()

    # and records the visit
    page.get_by_role("link", name=re.compile("Record (an )?interaction", re.IGNORECASE)).first.click()
    page.get_by_label("Kind of contact").select_option("visit")
    page.get_by_label("Summary").fill("Visited at the branch to review the wealth portfolio.")
    page.get_by_label("Outcome").select_option("interested")
    page.get_by_label("Next step", exact=True).fill("Send the fund prospectus")
    screenshot("rm-interaction-form")
    page.get_by_role("button", name="Save interaction").click()
    expect(page.get_by_role("heading", name=re.compile("王秀英"))).to_be_visible()
    expect(page.get_by_text("Visited at the branch to review the wealth portfolio.")).to_be_visible()

    # then the reveal is in the audit log, naming the field and never the number
    reveal = AuditEvent.objects.get(action="pii.reveal")
    assert (reveal.actor_id, reveal.target_id, reveal.detail) == (rm1.pk, str(customer.pk), {"field": "phone"})
    assert "13812345678" not in str(reveal.detail)
    # and the visit is recorded by rm1
    interaction = Interaction.objects.get(customer=customer)
    assert (interaction.kind, interaction.staff_id, interaction.outcome) == ("visit", rm1.pk, "interested")
