"""Keyboard only: every action of the customer 360 page and of the public complaint form is reachable with
Tab, shows where the focus is, and works with Enter / Space (WCAG 2.1.1, 2.4.3, 2.4.7)."""

import importlib
import re

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from accounts.models import Role
from complaints.models import Complaint
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# What the focused element looks like: its name, whether it is on screen, and whether a focus ring shows.
JS_FOCUSED = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const style = getComputedStyle(e);
  const rect = e.getBoundingClientRect();
  const ring = (style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0) || style.boxShadow !== 'none';
  return {tag: e.tagName.toLowerCase(), text: (e.innerText || e.value || e.getAttribute('aria-label') || '').trim()
            .slice(0, 60), id: e.id, visible: rect.width > 0 && rect.height > 0, ring};
}"""


def _tab_through(page, *, limit: int) -> list[dict]:
    stops = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(JS_FOCUSED)
        if focused is None:
            break
        stops.append(focused)
    return stops


def test_customer_360_is_usable_with_the_keyboard_alone(live_server, page, branch):
    # given an RM with a customer whose phone they may reveal
    rm = UserFactory(username="rm1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(name="王秀英", phone="13812345678", branch=branch, relationship_manager=rm)
    client = Client()
    client.force_login(rm)
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "url": live_server.url,
                               "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
    page.goto(f"{live_server.url}/customers/{customer.pk}/")

    # when they press Tab through the page
    stops = _tab_through(page, limit=60)

    # then the first stop is the skip link, every stop is on screen with a visible focus ring,
    assert stops and re.search("Skip to main content", stops[0]["text"])
    hidden = [stop for stop in stops[1:] if not stop["visible"]]
    without_ring = [stop for stop in stops[1:] if not stop["ring"]]
    assert hidden == [] and without_ring == [], (hidden, without_ring)
    # and the menu, the reveal buttons and the record-interaction link are all reached
    texts = [stop["text"] for stop in stops]
    assert any(text.startswith("Reveal") for text in texts), texts
    assert any(re.search("Record interaction", text) for text in texts), texts

    # when they focus the phone's Reveal button and press Enter, the number shows
    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    for _ in range(60):
        page.keyboard.press("Tab")
        if re.match(r"Reveal\s+Mobile phone", page.evaluate(JS_FOCUSED)["text"] or ""):
            break
    else:
        pytest.fail("the phone's Reveal button is not reachable with Tab")
    page.keyboard.press("Enter")
    expect(page.get_by_text("13812345678")).to_be_visible()


def test_public_complaint_form_is_usable_with_the_keyboard_alone(live_server, page, transactional_db):
    # given the complaint categories and a branch
    from django.apps import apps

    importlib.import_module("complaints.migrations.0002_default_categories_and_sla").seed(apps, None)
    BranchFactory(code="B0201", name="Haidian Branch")
    page.goto(f"{live_server.url}/public/complaints/new/")

    # when a customer fills in the form with the keyboard only
    stops = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(JS_FOCUSED)
        stops.append(focused)
        assert focused["visible"] and focused["ring"], focused
        if focused["id"] == "id_contact_name":
            page.keyboard.type("王秀英")
        elif focused["id"] == "id_contact_phone":
            page.keyboard.type("13812345678")
        elif focused["id"] == "id_branch":
            page.keyboard.press("ArrowDown")
        elif focused["id"] == "id_category":
            page.keyboard.press("ArrowDown")
            page.keyboard.press("ArrowDown")
        elif focused["id"] == "id_description":
            page.keyboard.type("The card fee was charged twice.")
        elif focused["tag"] == "button" and re.search("Submit complaint", focused["text"]):
            page.keyboard.press("Enter")
            break
    else:
        pytest.fail(f"the submit button is not reachable with Tab: {stops}")

    # then the complaint is received and the reference shown
    expect(page.locator("#complaint-reference")).to_be_visible()
    assert Complaint.objects.filter(contact_name="王秀英").exists()
