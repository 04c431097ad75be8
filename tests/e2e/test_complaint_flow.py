"""The complaint desk logs a complaint, responds, resolves; the customer follows the progress and reopens
it from the public pages, and (second test) answers the survey and reopens from its thank-you page.
Screenshots land in test-artifacts/."""

import importlib
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from complaints.demo import demo_seed_complaints
from complaints.models import Complaint, ComplaintStatus
from service.models import OutboundMessage
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.customers.factories import CustomerFactory, ProductFactory


@pytest.fixture(autouse=True)
def _complaint_reference_data(transactional_db):
    """The category tree and SLA policy v1 of complaints migration 0002 (an earlier flush may have emptied them)."""
    from django.apps import apps

    importlib.import_module("complaints.migrations.0002_default_categories_and_sla").seed(apps, None)


pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _log_in(page, live_server, username):
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_desk_resolves_and_customer_reopens_after_the_survey(live_server, page, screenshot, branch):
    # given a complaint desk clerk, a branch manager, a customer and some history for the hot spots
    UserFactory(username="desk1", branch=branch, roles=[Role.COMPLAINT_DESK])
    UserFactory(username="manager1", branch=branch, roles=[Role.BRANCH_MANAGER])
    customer = CustomerFactory(name="王秀英", phone="13812345678", branch=branch)
    CustomerFactory.create_batch(20, branch=branch)
    ProductFactory.create_batch(3)
    demo_seed_complaints(seed=1, as_of=timezone.now() - timedelta(minutes=5), count=120)

    # when the desk logs a complaint for the customer found by name
    _log_in(page, live_server, "desk1")
    page.goto(f"{live_server.url}/complaints/")
    screenshot("complaint-queue")
    page.get_by_role("link", name="Log a complaint").first.click()
    page.get_by_label("Name or customer number").fill("王秀英")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Select").first.click()
    expect(page.get_by_text("138****5678")).to_be_visible()
    page.get_by_label("Channel").select_option("branch")
    page.get_by_label("Category").select_option(label="— Credit cards")
    page.get_by_label("Severity").select_option("high")
    page.get_by_label("Description").fill("Annual fee charged although waived at sign-up.")
    page.get_by_role("button", name="Log complaint").click()

    # then the complaint page shows the reference, the SLA clock and the timeline
    expect(page.get_by_role("heading", name=re.compile(r"Complaint TS\d{8}-\d{6}"))).to_be_visible()
    complaint = Complaint.objects.get(customer=customer, created_by__username="desk1")
    expect(page.locator("[data-sla='on_track']").first).to_be_visible()

    # when the desk responds and resolves
    page.get_by_role("form", name="Acknowledge (first response)").get_by_label("Note (optional)").fill("Called back")
    page.get_by_role("button", name="Acknowledge (first response)").click()
    expect(page.locator("#complaint-timeline [data-kind='acknowledged']")).to_be_visible()
    resolve = page.get_by_role("form", name="Resolve")
    resolve.get_by_label("Resolution given to the customer").fill("Annual fee refunded.")
    resolve.get_by_label("Root cause").select_option("C03")
    screenshot("complaint-detail")
    resolve.get_by_role("button", name="Resolve").click()
    expect(page.locator("#complaint-timeline [data-kind='resolved']")).to_be_visible()
    expect(page.locator("#complaint-timeline [data-kind='survey_sent']")).to_be_visible()
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RESOLVED

    # the branch manager reads the hot spots
    page.context.clear_cookies()
    _log_in(page, live_server, "manager1")
    page.goto(f"{live_server.url}/complaints/hotspots/")
    expect(page.locator("#hotspot-table")).to_be_visible()
    page.wait_for_function("document.getElementById('hotspot-chart').toDataURL().length > 5000")
    screenshot("complaint-hotspots")

    # when the customer, not satisfied, finds the complaint by reference and phone and reopens it
    page.context.clear_cookies()
    page.goto(f"{live_server.url}/public/complaints/")
    page.get_by_label("Reference number").fill(complaint.reference)
    page.get_by_label("Last four digits of your phone").fill("5678")
    page.get_by_role("button", name="Show progress").click()
    page.get_by_role("link", name="Not satisfied? Reopen the complaint").click()
    page.get_by_label("Last four digits of your phone").fill("5678")
    page.get_by_label("What is still wrong?").fill("The refund never arrived.")
    page.get_by_role("button", name="Reopen complaint").click()
    expect(page.get_by_role("heading", name="Your complaint has been reopened")).to_be_visible()
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.INVESTIGATING and complaint.reopen_count == 1

    # and follows the progress: only customer-visible steps are listed
    page.goto(f"{live_server.url}/public/complaints/")
    page.get_by_label("Reference number").fill(complaint.reference)
    page.get_by_label("Last four digits of your phone").fill("5678")
    page.get_by_role("button", name="Show progress").click()
    expect(page.locator("#public-status")).to_have_text("investigating")
    expect(page.locator("#public-timeline")).not_to_contain_text("Called back")
    screenshot("complaint-public-progress")

    # and the public online form
    page.goto(f"{live_server.url}/public/complaints/new/")
    screenshot("complaint-public-form")


def test_customer_answers_the_survey_and_reopens_from_the_thank_you_page(live_server, page, screenshot, branch):
    # given a resolved complaint whose survey invitation went out by SMS
    from complaints import services
    from tests.complaints.factories import make_complaint

    desk = UserFactory(username="desk1", branch=branch, roles=[Role.COMPLAINT_DESK])
    customer = CustomerFactory(name="王秀英", phone="13812345678", branch=branch)
    complaint = services.complaint_acknowledge(complaint=make_complaint(customer=customer), by=desk)
    services.complaint_resolve(complaint=complaint, by=desk, resolution="Annual fee refunded.", root_cause="C03")

    # when the customer answers the survey on the public page, dissatisfied
    message = OutboundMessage.objects.get(customer=customer)
    # The link sits in the body, or (service's in-progress change) in its own encrypted field until sent.
    text = f"{message.body} {getattr(message, 'link', '')}"
    survey_path = re.search(r"/public/surveys/[^/\s]+/", text).group(0)
    page.goto(f"{live_server.url}{survey_path}")
    page.locator("label[for='id_csat_0']").click()
    page.locator("label[for='id_nps_0']").click()
    page.get_by_role("button", name="Send my answers").click()

    # then the thank-you page offers to reopen, and the customer does
    screenshot("complaint-survey-thanks")
    page.locator("#complaint-reopen-link").click()
    page.get_by_label("Last four digits of your phone").fill("5678")
    page.get_by_label("What is still wrong?").fill("The refund never arrived.")
    page.get_by_role("button", name="Reopen complaint").click()
    expect(page.get_by_role("heading", name="Your complaint has been reopened")).to_be_visible()
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.INVESTIGATING
