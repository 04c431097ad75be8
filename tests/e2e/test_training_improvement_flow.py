"""Training and improvement in a browser: an RM takes a course's pre-test, its modules and the
post-test and sees the knowledge gain; a branch manager opens an initiative and its check phase
shows the KPI's measured value."""

from __future__ import annotations

import importlib
from datetime import date

import pytest
from django.apps import apps as django_apps
from playwright.sync_api import expect

from accounts.models import Role
from tests.accounts.factories import DEFAULT_PASSWORD, UserFactory
from tests.improvement.factories import fake_registry_install
from tests.training.factories import course_with_bank

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def seeded_policy(transactional_db):
    """A transactional test's flush empties what data migrations seeded: seed it again."""
    importlib.import_module("improvement.migrations.0002_scorecard_policy_v1").seed(django_apps, None)


def _log_in(page, live_server, username: str) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_rm_takes_pre_test_module_post_test_and_sees_the_gain(live_server, page, screenshot, branch):
    # given an RM and a course of two modules and four questions
    UserFactory(username="rm_learner", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    course_with_bank(title="Handling complaints well")

    # when the RM enrols from the Training menu and sits the pre-test knowing only one answer
    _log_in(page, live_server, "rm_learner")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Training").click()
    page.get_by_role("link", name="Handling complaints well").click()
    page.get_by_role("button", name="Enrol on this course").click()
    page.get_by_role("link", name="Take the pre-test").click()
    expect(page.get_by_text("correct answer")).to_have_count(0)  # nothing gives the answers away
    page.get_by_role("group", name="1. single").get_by_label("A", exact=True).check()
    page.get_by_role("button", name="Submit answers").click()
    expect(page.get_by_role("status")).to_contain_text("Score 25")

    # and works through both modules
    page.get_by_role("link", name="Back to the course").first.click()
    for index in range(2):
        page.get_by_role("list").get_by_role("link", name="Module").nth(index).click()
        page.get_by_role("button", name="Mark as done").click()
    # then sits the post-test and gets every question right
    page.get_by_role("link", name="Take the post-test").click()
    page.get_by_role("group", name="1. single").get_by_label("A", exact=True).check()
    multiple = page.get_by_role("group", name="2. multiple")
    multiple.get_by_label("A", exact=True).check()
    multiple.get_by_label("B", exact=True).check()
    page.get_by_role("group", name="3. tf1").get_by_label("True", exact=True).check()
    page.get_by_role("group", name="4. tf2").get_by_label("False", exact=True).check()
    page.get_by_role("button", name="Submit answers").click()

    # then the result shows the score, the right answers and the knowledge gain
    expect(page.get_by_role("status")).to_contain_text("Score 100")
    expect(page.get_by_test_id("knowledge-gain")).to_have_text("75.0 points")
    page.get_by_role("link", name="Back to the course").first.click()
    expect(page.get_by_test_id("knowledge-gain")).to_have_text("75.0 points")
    expect(page.get_by_text("normalised gain 1.00")).to_be_visible()
    screenshot("training-course-gain")


def test_manager_opens_an_initiative_and_the_check_phase_shows_the_kpi(live_server, page, screenshot, branch,
                                                                       monkeypatch):
    # given a branch manager and the KPI registry's satisfaction figures for the branch
    manager = UserFactory(username="bm_pdca", branch=branch, roles=[Role.BRANCH_MANAGER])
    registry = fake_registry_install(monkeypatch)
    registry.set("satisfaction", "month", date(2026, 9, 1), "78.5", branch_id=branch.pk)
    registry.set("satisfaction", "month", date(2026, 11, 1), "86.2", branch_id=branch.pk)

    # when the manager opens an initiative from the Improvement menu
    _log_in(page, live_server, "bm_pdca")
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Improvement").click()
    page.get_by_role("link", name="Open an initiative").first.click()
    page.get_by_label("Title").fill("Shorter queues at lunchtime")
    page.get_by_label("Problem").fill("Customers wait too long at noon.")
    page.get_by_label("Owner").select_option(str(manager.pk))
    page.get_by_label("Branch").select_option(str(branch.pk))
    page.get_by_label("Target KPI").select_option("satisfaction")
    page.get_by_label("Baseline period (any day in it)").fill("2026-09-15")
    page.get_by_label("Target", exact=True).fill("85")
    page.get_by_label("Check period (any day in it)").fill("2026-11-15")
    page.get_by_role("button", name="Open the initiative").click()
    expect(page.get_by_role("heading", name="Shorter queues at lunchtime")).to_be_visible()

    # and moves it through do into check
    page.get_by_role("button", name="Move to do").click()
    page.get_by_role("button", name="Move to check").click()

    # then the check phase shows the KPI's measured value against baseline and target
    check = page.locator("#kpi-check")
    expect(check).to_contain_text("Satisfaction")
    expect(check).to_contain_text("78.5")
    expect(page.get_by_test_id("kpi-measured")).to_contain_text("86.2")
    expect(check).to_contain_text("target met")
    screenshot("improvement-initiative-check")
