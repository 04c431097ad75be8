"""Service chapter in a browser (kept with the other e2e tests to share their one Playwright session):
a branch manager reads the service report; a customer answers the survey on a phone."""

import importlib
import os
import re
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from service.models import FollowUpTask, SurveyResponse
from service.services import survey_response_submit
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.customers.factories import CustomerFactory
from tests.e2e.conftest import ARTIFACTS_DIR
from tests.service.factories import (
    ServiceRecordFactory,
    SurveyInvitationFactory,
    SurveyResponseFactory,
    invitation_with_token,
    touchpoint,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def seeded_touchpoints(transactional_db):
    """A transactional test's flush also empties what the data migration seeded: seed it again."""
    seed_migration = importlib.import_module("service.migrations.0002_seed_touchpoints_and_topics")
    seed_migration.seed(django_apps, None)


def test_branch_manager_reads_the_service_report(live_server, page, screenshot, branch):
    # given a month of services at the branch, some over the standard, some answered
    UserFactory(username="manager1", branch=branch, roles=[Role.BRANCH_MANAGER])
    customer = CustomerFactory(branch=branch)
    now = timezone.now()
    for n, (code, minutes) in enumerate([("consultation", 9), ("consultation", 14), ("consultation", 22),
                                         ("transfer", 6), ("transfer", 13), ("account_opening", 24),
                                         ("account_opening", 31), ("wealth_management", 38),
                                         ("complaint", 27), ("consultation", 11)]):
        record = ServiceRecordFactory(customer=customer, touchpoint=touchpoint(code), minutes=minutes,
                                      started_at=now - timedelta(days=n + 1))
        if n % 2 == 0:
            SurveyResponseFactory(invitation=SurveyInvitationFactory(customer=customer, service_record=record),
                                  csat=5 - n % 3, nps=10 - n)

    # when the manager logs in and opens the service report
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("manager1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Service report").click()

    # then the table shows each touchpoint's numbers
    expect(page.get_by_role("heading", name="Service report")).to_be_visible()
    expect(page.get_by_test_id("total-records")).to_have_text("10")
    expect(page.locator("tr[data-touchpoint=consultation] td").first).to_have_text("4")
    screenshot("service-report")


def test_customer_answers_the_survey_on_a_phone(live_server, browser, branch):
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    _invitation, token = invitation_with_token(customer=customer)
    context = browser.new_context(viewport=PHONE, locale="en-US", is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    phone = context.new_page()
    try:
        # when the customer opens the link from the SMS
        phone.goto(f"{live_server.url}/public/surveys/{token}/")
        expect(phone.get_by_role("heading", name="How did we do?")).to_be_visible()
        # no horizontal scrolling on a phone
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        _shot(phone, "survey-phone")

        # and answers dissatisfied
        phone.locator("label[for=id_csat_1]").click()  # CSAT 2
        phone.locator("label[for=id_nps_5]").click()  # NPS 5
        phone.get_by_label("Service").fill("40")
        phone.get_by_label("Anything you would like to tell us?").fill("排队等了太久")
        _shot(phone, "survey-phone-filled")
        phone.get_by_role("button", name="Send my answers").click()

        # then they are thanked and their RM gets a follow-up
        expect(phone.get_by_role("heading", name=re.compile("Thank you"))).to_be_visible()
        _shot(phone, "survey-phone-thanks")
        answer = SurveyResponse.objects.get()
        assert (answer.csat, answer.nps, answer.score_service) == (2, 5, 40)
        assert FollowUpTask.objects.get().assigned_to == rm
    finally:
        context.close()


def _shot(page, name: str) -> None:
    os.makedirs(ARTIFACTS_DIR, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS_DIR, f"{name}.png"), full_page=True)


def test_rm_records_a_service_from_the_customer_360(live_server, page, screenshot, branch):
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(name="王秀英", branch=branch, relationship_manager=rm, phone="13812345678")
    SurveyResponseFactory(invitation=invitation_with_token(customer=customer)[0], csat=2, nps=4,
                          comment="排队等了太久")
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.get_by_role("link", name="Record service").click()
    page.get_by_label("Touchpoint").select_option(label="Account opening")
    # only the chosen touchpoint's checklist is shown
    expect(page.get_by_label("Risk assessment questionnaire")).to_be_visible()
    expect(page.get_by_label("Check payee and amount (fraud warning)")).to_be_hidden()
    page.get_by_label("Verify identity (ID card reader and online check)").check()
    page.get_by_label("Risk assessment questionnaire").check()
    screenshot("service-record-form")
    page.get_by_role("button", name="Save service record").click()

    expect(page.get_by_role("heading", name="Service records")).to_be_visible()
    expect(page.locator("#service-records-heading ~ *").first).to_be_visible()
    screenshot("customer-360-service-panel")
    record = customer.service_records.get()
    assert record.touchpoint.code == "account_opening" and len(record.steps_completed) == 2


def test_rm_works_the_follow_ups_and_re_tags_an_answer(live_server, page, screenshot, branch):
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    for n, comment in enumerate(["排队等了太久", "Product too complex to understand", ""]):
        customer = CustomerFactory(branch=branch, relationship_manager=rm)
        invitation, _token = invitation_with_token(customer=customer)
        survey_response_submit(invitation=invitation, csat=1 + n, nps=2 + n, comment=comment,
                               score_service=40 + 10 * n)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.get_by_role("link", name="My follow-ups").click()
    expect(page.locator("#follow-up-table tbody tr")).to_have_count(3)
    screenshot("service-follow-ups")
    page.locator("#follow-up-table tbody tr").first.get_by_role("button", name="Done").click()
    expect(page.locator("#follow-up-table tbody tr")).to_have_count(2)

    page.locator("#follow-up-table tbody tr").first.get_by_role("link", name=re.compile("CSAT")).click()
    page.get_by_label("Service attitude").check()
    page.get_by_role("button", name="Save topics").click()
    expect(page.get_by_text("The feedback topics were saved.")).to_be_visible()
    screenshot("service-survey-answer")
    assert FollowUpTask.objects.filter(status="done").count() == 1


def test_rm_opens_the_full_service_history_from_the_360_panel(live_server, page, screenshot, branch):
    # given a customer with more services than the 360 panel shows
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(name="王秀英", branch=branch, relationship_manager=rm)
    now = timezone.now()
    for n in range(7):
        ServiceRecordFactory(customer=customer, minutes=8 + n, started_at=now - timedelta(days=n + 1))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("rm1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # when the RM follows the panel's link to the rest
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.locator("#service-history-link").click()

    # then every service is listed
    expect(page.get_by_role("heading", name=re.compile("Services and survey answers"))).to_be_visible()
    expect(page.locator("#history-records-table tbody tr")).to_have_count(7)
    screenshot("service-customer-history")
