"""The desk searches the queue by phone in the browser: htmx swaps the results, pages by POST, no term in the URL."""

import importlib
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.complaints.factories import make_complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture(autouse=True)
def _complaint_reference_data(transactional_db):
    from django.apps import apps

    importlib.import_module("complaints.migrations.0002_default_categories_and_sla").seed(apps, None)


def test_desk_finds_a_complainant_by_phone_and_pages_through(live_server, page, screenshot, branch, monkeypatch):
    # given three complaints from one walk-in and a page size of two
    monkeypatch.setattr("complaints.views.QUEUE_PAGE_SIZE", 2)
    UserFactory(username="desk1", branch=branch, roles=[Role.COMPLAINT_DESK])
    start = timezone.now() - timedelta(hours=3)
    references = [make_complaint(branch=branch, contact_name="周敏", contact_phone="13766660000",
                                 received_at=start + timedelta(minutes=i), now=start + timedelta(minutes=i)).reference
                  for i in range(3)]
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill("desk1")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto(f"{live_server.url}/complaints/")

    # when a phone of the wrong length is searched
    page.get_by_label("Complainant's phone").fill("13766")
    page.get_by_role("button", name="Search", exact=True).click()
    # then it is a format error, and the input stays
    expect(page.get_by_text("you entered 5 digits")).to_be_visible()
    expect(page.get_by_label("Complainant's phone")).to_have_value("13766")

    # when the whole number is searched
    page.get_by_label("Complainant's phone").fill("137 6666 0000")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name=references[2])).to_be_visible()
    expect(page.get_by_role("link", name=references[1])).to_be_visible()
    expect(page.get_by_role("link", name=references[0])).to_have_count(0)
    screenshot("complaint-search-page-1")
    page.get_by_role("button", name="Next").click()
    # then page two shows the oldest, the input is still there
    expect(page.get_by_role("link", name=references[0])).to_be_visible()
    expect(page.get_by_label("Complainant's phone")).to_have_value("137 6666 0000")
    screenshot("complaint-search-page-2")
    # and no URL the browser asked for carries the number
    assert page.url.endswith("/complaints/")
    assert not [url for url in requested if "6666" in url]
