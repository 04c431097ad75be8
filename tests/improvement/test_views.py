"""Improvement pages: the role matrix, scopes, and what each page shows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import Role
from core.models import AuditEvent
from improvement import services
from improvement.models import CustomerFeedbackReward, Initiative, Phase, Scorecard, Suggestion
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.improvement.factories import suggestion
from tests.service.factories import SurveyResponseFactory

pytestmark = pytest.mark.django_db
OCT = date(2026, 10, 1)

PAGES = {
    "improvement:home": {"rm": 200, "branch_manager": 200, "complaint_desk": 200, "auditor": 200, "admin": 200},
    "improvement:initiative-list": {"rm": 200, "branch_manager": 200, "complaint_desk": 200, "auditor": 200,
                                    "admin": 200},
    "improvement:initiative-create": {"rm": 403, "branch_manager": 200, "complaint_desk": 403, "auditor": 403,
                                      "admin": 200},
    "improvement:suggestion-list": {"rm": 200, "branch_manager": 200, "complaint_desk": 200, "auditor": 200,
                                    "admin": 200},
    "improvement:feedback-rewards": {"rm": 200, "branch_manager": 200, "complaint_desk": 403, "auditor": 403,
                                     "admin": 200},
    "improvement:scorecard-list": {"rm": 200, "branch_manager": 200, "complaint_desk": 403, "auditor": 200,
                                   "admin": 200},
    "improvement:review-list": {"rm": 403, "branch_manager": 200, "complaint_desk": 403, "auditor": 200,
                                "admin": 200},
}


@pytest.mark.parametrize(("name", "role", "status"), [
    (name, role, status) for name, statuses in PAGES.items() for role, status in statuses.items()])
def test_role_matrix(client_as, kpi_registry, name, role, status):
    assert client_as(role).get(reverse(name)).status_code == status


@pytest.mark.parametrize("name", list(PAGES))
def test_anonymous_is_sent_to_log_in(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and "login" in response["Location"]


def test_manager_opens_an_initiative_and_its_check_phase_shows_the_kpi(client_as, kpi_registry):
    client = client_as("branch_manager")
    manager = client.user
    kpi_registry.set("satisfaction", "month", date(2026, 9, 1), "78.5", branch_id=manager.branch_id)
    response = client.post(reverse("improvement:initiative-create"), {
        "title": "Lift satisfaction", "problem": "Queues at noon", "owner": manager.pk, "branch": manager.branch_id,
        "kpi_code": "satisfaction", "kpi_period_kind": "month", "baseline_period_start": "2026-09-10",
        "target_value": "85", "check_period_start": "2026-11-01"})
    assert response.status_code == 302
    initiative = Initiative.objects.get()
    for phase in ("do", "check"):
        client.post(reverse("improvement:initiative-detail", args=[initiative.pk]), {"to_phase": phase})
    kpi_registry.set("satisfaction", "month", date(2026, 11, 1), "86.2", branch_id=manager.branch_id)
    body = client.get(reverse("improvement:initiative-detail", args=[initiative.pk])).content.decode()
    assert "Satisfaction" in body and "78.5" in body and "86.2" in body and "+7.7" in body
    assert "target met" in body and "Move to act" in body


def test_rm_sees_only_initiatives_they_own_or_work_on(client_as, kpi_registry, make_user):
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    kpi_registry.set("satisfaction", "month", date(2026, 9, 1), "70", branch_id=manager.branch_id)
    theirs = services.initiative_create(
        by=manager, title="Not yours", problem="p", owner=manager, team=[], branch=manager.branch,
        kpi_code="satisfaction", kpi_period_kind="month", baseline_period_start=date(2026, 9, 1),
        target_value=Decimal("80"), check_period_start=date(2026, 11, 1))
    client = client_as("rm")
    assert client.get(reverse("improvement:initiative-detail", args=[theirs.pk])).status_code == 404
    theirs.team.add(client.user)
    assert client.get(reverse("improvement:initiative-detail", args=[theirs.pk])).status_code == 200
    # a team member reads it but does not move it on
    response = client.post(reverse("improvement:initiative-detail", args=[theirs.pk]), {"to_phase": "do"})
    assert response.status_code == 403
    theirs.refresh_from_db()
    assert theirs.phase == Phase.PLAN


def test_staff_submit_suggestions_and_the_manager_decides(client_as, make_user):
    rm_client = client_as("rm")
    response = rm_client.post(reverse("improvement:suggestion-list"), {"title": "Idea", "body": "Do it"})
    assert response.status_code == 302
    idea = Suggestion.objects.get()
    assert rm_client.post(reverse("improvement:suggestion-detail", args=[idea.pk]),
                          {"decision": "adopt", "reason": "self"}).status_code == 403
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    rm_client.force_login(manager)
    response = rm_client.post(reverse("improvement:suggestion-detail", args=[idea.pk]),
                              {"decision": "adopt", "reason": "Good", "reward_points": 30})
    assert response.status_code == 302
    body = rm_client.get(reverse("improvement:suggestion-detail", args=[idea.pk])).content.decode()
    assert "adopted" in body and "30 (suggestion adopted)" in body and "Open an initiative from it" in body


def test_manager_of_another_branch_cannot_see_or_decide(client_as, make_user):
    stranger = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"))
    idea = suggestion(stranger)
    client = client_as("branch_manager")
    assert client.get(reverse("improvement:suggestion-detail", args=[idea.pk])).status_code == 404
    assert client.post(reverse("improvement:suggestion-detail", args=[idea.pk]),
                       {"decision": "reject", "reason": "x"}).status_code == 404
    idea.refresh_from_db()
    assert idea.status == "submitted"


def test_rm_rewards_feedback_of_own_customers_only(client_as, branch):
    client = client_as("rm")
    own = SurveyResponseFactory(invitation__customer=CustomerFactory(branch=branch,
                                                                     relationship_manager=client.user))
    other = SurveyResponseFactory(invitation__customer=CustomerFactory(branch=branch))
    page = client.get(reverse("improvement:feedback-rewards")).content.decode()
    assert own.customer.name in page and other.customer.name not in page
    response = client.post(reverse("improvement:feedback-rewards"), {
        "prefix": f"r{other.pk}", f"r{other.pk}-response_id": other.pk, f"r{other.pk}-kind": "points",
        f"r{other.pk}-points": 10})
    assert response.status_code == 404 and not CustomerFeedbackReward.objects.exists()
    client.post(reverse("improvement:feedback-rewards"), {
        "prefix": f"r{own.pk}", f"r{own.pk}-response_id": own.pk, f"r{own.pk}-kind": "points",
        f"r{own.pk}-points": 10})
    assert CustomerFeedbackReward.objects.get().survey_response == own


@pytest.fixture
def cards(branch):
    """Two RMs in the branch and one elsewhere, each with a customer, scored for October."""
    ours = [UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username=f"our_rm_{i}") for i in range(2)]
    theirs = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"), username="their_rm")
    for rm in [*ours, theirs]:
        CustomerFactory(branch=rm.branch, relationship_manager=rm)
    services.scorecards_compute(period_kind="month", period_start=OCT)
    return ours, theirs


@pytest.mark.parametrize(("role", "sees"), [("branch_manager", {"our_rm_0", "our_rm_1"}),
                                            ("auditor", {"our_rm_0", "our_rm_1", "their_rm"}),
                                            ("admin", {"our_rm_0", "our_rm_1", "their_rm"})])
def test_scorecards_by_role(client_as, cards, role, sees):
    body = client_as(role).get(reverse("improvement:scorecard-list"), {"period_kind": "month",
                                                                        "period": "2026-10"}).content.decode()
    assert {name for name in ("our_rm_0", "our_rm_1", "their_rm") if name in body} == sees
    assert "weights, version 1" in body


def test_rm_sees_only_their_own_card(client, cards):
    ours, _theirs = cards
    client.force_login(ours[0])
    body = client.get(reverse("improvement:scorecard-list"), {"period_kind": "month", "period": "2026-10"}).content
    assert b"our_rm_0" in body and b"our_rm_1" not in body and b"their_rm" not in body


def test_only_admins_queue_the_scorecard_computation(client_as, branch):
    from core.models import OutboxMessage
    from improvement import tasks

    assert client_as("branch_manager").post(reverse("improvement:scorecard-list"),
                                            {"period_kind": "month", "period": "2026-10"}).status_code == 403
    assert not OutboxMessage.objects.exists()
    response = client_as("admin").post(reverse("improvement:scorecard-list"),
                                       {"period_kind": "month", "period": "2026-10"})
    assert response.status_code == 302
    message = OutboxMessage.objects.get(task_name=services.SCORECARDS_COMPUTE_TASK)
    assert message.kwargs == {"period_kind": "month", "period_start": "2026-10-01"}
    rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    CustomerFactory(branch=branch, relationship_manager=rm)
    tasks.scorecards_compute_task(**message.kwargs)  # what the worker runs
    assert Scorecard.objects.filter(period_start=OCT, relationship_manager=rm).exists()


def test_review_list_exports_csv_and_audits_it(client_as, kpi_registry):
    client = client_as("branch_manager")
    manager = client.user
    kpi_registry.set("satisfaction", "month", date(2026, 9, 1), "70", branch_id=manager.branch_id)
    services.initiative_create(by=manager, title="=HYPERLINK(evil)", problem="p", owner=manager, team=[],
                               branch=manager.branch, kpi_code="satisfaction", kpi_period_kind="month",
                               baseline_period_start=date(2026, 9, 1), target_value=Decimal("80"),
                               check_period_start=date(2026, 11, 1))
    response = client.get(reverse("improvement:review-list"), {"format": "csv"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    text = response.content.decode("utf-8-sig")
    assert "'=HYPERLINK(evil)" in text and "Satisfaction" in text
    assert AuditEvent.objects.filter(action="improvement.review_export").exists()
