"""Scorecard formula, initiatives through PDCA with the KPI reading, suggestions and rewards, on
hand-made data with known answers."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Role
from complaints.models import Complaint, ComplaintStatus
from core.errors import ApplicationError
from improvement import services
from improvement.models import (
    Initiative,
    PeriodKind,
    Phase,
    Scorecard,
    ScorecardPolicy,
    StaffReward,
    SuggestionStatus,
    Verdict,
)
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory
from tests.improvement.factories import segment, suggestion
from tests.service.factories import SurveyResponseFactory
from tests.training.factories import EnrolmentFactory, course_with_bank

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")
OCT = date(2026, 10, 1)
SEP = date(2026, 9, 1)


def at(day: int, month: int = 10) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def policy():
    return ScorecardPolicy.objects.get(version=1)


# --- Formula -------------------------------------------------------------------------------


def test_policy_v1_weights_sum_to_100_and_are_documented(policy):
    assert policy.weight_total == 100 and "satisfaction 25" in policy.rationale


def test_components_and_score_known_answer(policy):
    """50 / 75 / +20 % CLV / 25 complaints per 100 / 100 / 50 → components 50, 75, 100, 0, 100, 50;
    score (25x50 + 20x75 + 20x100 + 15x0 + 10x100 + 10x50) / 100 = 62.50."""
    components = services.scorecard_components(
        policy=policy, satisfaction_pct=Decimal("50"), retention_pct=Decimal("75"), clv_growth_pct=Decimal("20"),
        complaints_per_100=Decimal("25"), sla_pct=Decimal("100"), training_completion_pct=Decimal("50"))
    assert components == {"satisfaction": Decimal("50"), "retention": Decimal("75"), "clv_growth": Decimal("100"),
                          "complaints": Decimal("0"), "sla": Decimal("100"), "training": Decimal("50")}
    assert services.scorecard_score(policy=policy, components=components) == Decimal("62.50")


def test_missing_components_are_left_out_not_counted_as_zero(policy):
    """Only retention 100 and complaints 0 per 100 (score 100): (20x100 + 15x100) / 35 = 100.00."""
    components = services.scorecard_components(
        policy=policy, satisfaction_pct=None, retention_pct=Decimal("100"), clv_growth_pct=None,
        complaints_per_100=Decimal("0"), sla_pct=None, training_completion_pct=None)
    assert services.scorecard_score(policy=policy, components=components) == Decimal("100.00")
    empty = dict.fromkeys(components)
    assert services.scorecard_score(policy=policy, components=empty) is None


def test_clv_and_complaint_scales(policy):
    """-10 % CLV scores 25; 2.5 complaints per 100 score 50; beyond the scale clamps to 0..100."""
    c = services.scorecard_components(policy=policy, satisfaction_pct=None, retention_pct=None,
                                      clv_growth_pct=Decimal("-10"), complaints_per_100=Decimal("2.5"),
                                      sla_pct=None, training_completion_pct=None)
    assert (c["clv_growth"], c["complaints"]) == (Decimal("25"), Decimal("50"))
    c = services.scorecard_components(policy=policy, satisfaction_pct=None, retention_pct=None,
                                      clv_growth_pct=Decimal("-90"), complaints_per_100=Decimal("0"),
                                      sla_pct=None, training_completion_pct=None)
    assert (c["clv_growth"], c["complaints"]) == (Decimal("0"), Decimal("100"))


def test_a_new_policy_version_needs_weights_summing_to_100():
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ScorecardPolicy.objects.create(version=2, effective_from=date(2027, 1, 1), weight_satisfaction=30,
                                       weight_retention=20, weight_clv_growth=20, weight_complaints=15,
                                       weight_sla=10, weight_training=10, rationale="x")


# --- Scorecards from the lower apps' tables ------------------------------------------------


@pytest.fixture
def book(branch):
    """RM A: 4 customers at the start of October (one leaves on 15 Oct) and one new; RM B: 2 customers;
    RM C (another branch): none."""
    rm_a = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_a")
    rm_b = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_b")
    rm_c = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"), username="rm_c")
    a = [CustomerFactory(branch=branch, relationship_manager=rm_a) for _ in range(4)]
    a[3].closed_on, a[3].status = date(2026, 10, 15), "closed"
    a[3].save()
    CustomerFactory(branch=branch, relationship_manager=rm_a, customer_since=date(2026, 10, 10))
    b = [CustomerFactory(branch=branch, relationship_manager=rm_b) for _ in range(2)]
    for customer in a[:3]:
        segment(customer, "1000")
    for csat, day in ((5, 3), (4, 4), (2, 5), (3, 6)):
        SurveyResponseFactory(invitation__customer=a[day % 3], csat=csat, submitted_at=at(day))
    SurveyResponseFactory(invitation__customer=a[0], csat=1, submitted_at=at(20, month=9))  # September: not counted
    complaint = make_complaint(customer=a[0], received_at=at(5))
    Complaint.objects.filter(pk=complaint.pk).update(
        status=ComplaintStatus.RESOLVED, first_response_at=at(5) + timedelta(hours=1),
        resolved_at=at(6), first_resolved_at=at(6))
    course, _m, _b = course_with_bank()
    course2, _m2, _b2 = course_with_bank()
    EnrolmentFactory(course=course, user=rm_a, due_on=date(2026, 10, 20), completed_at=at(18))
    EnrolmentFactory(course=course2, user=rm_a, due_on=date(2026, 10, 25))
    EnrolmentFactory(course=course2, user=rm_b, due_on=date(2026, 12, 25))  # due later: not counted
    return {"a": rm_a, "b": rm_b, "c": rm_c, "customers_a": a, "customers_b": b}


def test_scorecards_from_hand_made_data(book, policy):
    services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=SEP)
    segment_row = book["customers_a"][0].segment
    segment_row.clv_cny = Decimal("1600")  # the book's CLV grows from 3,000 to 3,600: +20 %
    segment_row.save()
    assert services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=OCT) == 3
    card_a = Scorecard.objects.get(relationship_manager=book["a"], period_start=OCT)
    assert card_a.customers == 4 and card_a.retention_pct == Decimal("75.00")
    assert card_a.satisfaction_pct == Decimal("50.00")
    assert card_a.clv_total_cny == Decimal("3600.00") and card_a.clv_growth_pct == Decimal("20.00")
    assert (card_a.complaints, card_a.complaints_per_100, card_a.sla_pct) == (1, Decimal("25.00"), Decimal("100.00"))
    assert card_a.training_completion_pct == Decimal("50.00")
    assert card_a.score == Decimal("62.50") and card_a.policy == policy
    card_b = Scorecard.objects.get(relationship_manager=book["b"], period_start=OCT)
    assert (card_b.retention_pct, card_b.complaints_per_100, card_b.satisfaction_pct) == (
        Decimal("100.00"), Decimal("0.00"), None)
    assert card_b.score == Decimal("100.00")
    assert (card_b.rank_in_branch, card_a.rank_in_branch) == (1, 2)
    card_c = Scorecard.objects.get(relationship_manager=book["c"], period_start=OCT)
    assert card_c.score is None and card_c.rank_in_branch is None


def test_recomputing_a_period_replaces_its_cards(book):
    services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=OCT)
    services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=date(2026, 10, 17))
    assert Scorecard.objects.filter(period_start=OCT).count() == 3


def test_ties_share_a_rank(branch, policy):
    rms = [UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch) for _ in range(3)]
    for rm in rms:
        CustomerFactory(branch=branch, relationship_manager=rm)
    services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=OCT)
    assert sorted(Scorecard.objects.values_list("rank_in_branch", flat=True)) == [1, 1, 1]


# --- Initiatives ---------------------------------------------------------------------------


@pytest.fixture
def manager(make_user):
    return make_user(Role.BRANCH_MANAGER, username="bm")


def _open(manager, kpi_registry, **kwargs):
    kpi_registry.set("satisfaction", "month", date(2026, 9, 1), "78.5", branch_id=manager.branch_id)
    values = {"by": manager, "title": "Lift satisfaction", "problem": "Queues", "owner": manager, "team": [],
              "branch": manager.branch, "kpi_code": "satisfaction", "kpi_period_kind": "month",
              "baseline_period_start": date(2026, 9, 14), "target_value": Decimal("85"),
              "check_period_start": date(2026, 11, 3)}
    values.update(kwargs)
    return services.initiative_create(**values)


def test_initiative_reads_its_baseline_from_the_kpi_and_closes_with_the_verdict_the_data_gives(manager,
                                                                                               kpi_registry):
    initiative = _open(manager, kpi_registry)
    assert initiative.baseline_value == Decimal("78.5") and initiative.direction == "higher"
    assert (initiative.baseline_period_start, initiative.check_period_start) == (date(2026, 9, 1), date(2026, 11, 1))
    for phase in (Phase.DO, Phase.CHECK, Phase.ACT):
        initiative = services.initiative_advance(initiative=initiative, to_phase=phase, by=manager)
    with pytest.raises(ApplicationError) as error:  # no measured value for November yet
        services.initiative_advance(initiative=initiative, to_phase=Phase.CLOSED, by=manager)
    assert "verdict waits" in error.value.message
    kpi_registry.set("satisfaction", "month", date(2026, 11, 1), "86.2", branch_id=manager.branch_id)
    assert services.initiative_check_reading(initiative=initiative) == Decimal("86.2")
    initiative = services.initiative_advance(initiative=initiative, to_phase=Phase.CLOSED, by=manager)
    assert (initiative.phase, initiative.verdict, initiative.measured_value) == (
        Phase.CLOSED, Verdict.MET, Decimal("86.2"))
    assert list(initiative.events.values_list("to_phase", flat=True)) == ["plan", "do", "check", "act", "closed"]


def test_lower_is_better_kpi_is_met_below_the_target(manager, kpi_registry):
    kpi_registry.set("complaint_rate", "month", date(2026, 9, 1), "1.4", branch_id=manager.branch_id)
    initiative = _open(manager, kpi_registry, kpi_code="complaint_rate", target_value=Decimal("1.0"))
    assert initiative.direction == "lower"
    assert initiative.verdict_for(Decimal("0.9")) == Verdict.MET
    assert initiative.verdict_for(Decimal("1.1")) == Verdict.NOT_MET


def test_phases_only_move_in_order(manager, kpi_registry):
    initiative = _open(manager, kpi_registry)
    with pytest.raises(ApplicationError):
        services.initiative_advance(initiative=initiative, to_phase=Phase.CHECK, by=manager)
    initiative.refresh_from_db()
    assert initiative.phase == Phase.PLAN


def test_act_can_start_another_cycle(manager, kpi_registry):
    initiative = _open(manager, kpi_registry)
    for phase in (Phase.DO, Phase.CHECK, Phase.ACT, Phase.PLAN):
        initiative = services.initiative_advance(initiative=initiative, to_phase=phase, by=manager)
    assert initiative.cycle == 2 and initiative.phase_notes.filter(cycle=2, phase="plan").exists()


def test_unknown_kpi_and_missing_baseline_are_refused(manager, kpi_registry):
    with pytest.raises(ApplicationError):
        _open(manager, kpi_registry, kpi_code="no_such_kpi")
    with pytest.raises(ApplicationError) as error:
        _open(manager, kpi_registry, baseline_period_start=date(2026, 5, 1))
    assert error.value.field_errors.get("baseline_value")
    assert not Initiative.objects.exists()


# --- Suggestions and rewards ---------------------------------------------------------------


def test_suggestion_to_initiative_to_kpi_change_to_reward(manager, make_user, kpi_registry):
    """The chain: adopted with 50 points now and 200 if met; the initiative meets its target; 250 paid."""
    author = make_user(Role.RELATIONSHIP_MANAGER, username="author")
    idea = services.suggestion_submit(by=author, title="Second window at lunch", body="Queues at noon.")
    services.suggestion_review_start(suggestion=idea, by=manager)
    idea = services.suggestion_decide(suggestion=idea, by=manager, adopt=True, reason="Cheap and clear.",
                                      reward_points=50, bonus_points_if_met=200)
    assert idea.status == SuggestionStatus.ADOPTED
    initiative = _open(manager, kpi_registry, suggestion=idea)
    for phase in (Phase.DO, Phase.CHECK, Phase.ACT):
        initiative = services.initiative_advance(initiative=initiative, to_phase=phase, by=manager)
    kpi_registry.set("satisfaction", "month", date(2026, 11, 1), "88", branch_id=manager.branch_id)
    services.initiative_advance(initiative=initiative, to_phase=Phase.CLOSED, by=manager)
    rewards = StaffReward.objects.filter(user=author).order_by("awarded_at")
    assert [(r.reason, r.points) for r in rewards] == [("adopted", 50), ("target_met", 200)]


def test_no_bonus_when_the_target_is_missed(manager, make_user, kpi_registry):
    author = make_user(Role.RELATIONSHIP_MANAGER, username="author")
    idea = services.suggestion_decide(suggestion=suggestion(author), by=manager, adopt=True, reason="ok",
                                      reward_points=0, bonus_points_if_met=200)
    initiative = _open(manager, kpi_registry, suggestion=idea)
    for phase in (Phase.DO, Phase.CHECK, Phase.ACT):
        initiative = services.initiative_advance(initiative=initiative, to_phase=phase, by=manager)
    kpi_registry.set("satisfaction", "month", date(2026, 11, 1), "80", branch_id=manager.branch_id)
    initiative = services.initiative_advance(initiative=initiative, to_phase=Phase.CLOSED, by=manager)
    assert initiative.verdict == Verdict.NOT_MET and not StaffReward.objects.exists()


def test_rejection_needs_a_reason_and_pays_nothing(manager, make_user):
    author = make_user(Role.RELATIONSHIP_MANAGER, username="author")
    idea = suggestion(author)
    with pytest.raises(ApplicationError):
        services.suggestion_decide(suggestion=idea, by=manager, adopt=False, reason=" ")
    with pytest.raises(ApplicationError):
        services.suggestion_decide(suggestion=idea, by=manager, adopt=False, reason="No", reward_points=10)
    idea = services.suggestion_decide(suggestion=idea, by=manager, adopt=False, reason="Already planned.")
    assert idea.status == SuggestionStatus.REJECTED and not StaffReward.objects.exists()
    with pytest.raises(ApplicationError):  # decided once
        services.suggestion_decide(suggestion=idea, by=manager, adopt=True, reason="Changed my mind")


def test_a_customer_is_rewarded_once_per_survey_answer(branch, manager):
    answer = SurveyResponseFactory(invitation__customer=CustomerFactory(branch=branch))
    reward = services.customer_feedback_reward_grant(survey_response=answer, by=manager, kind="points", points=100)
    assert reward.customer_id == answer.customer_id
    with pytest.raises(ApplicationError):
        services.customer_feedback_reward_grant(survey_response=answer, by=manager, kind="gift", points=0)


def test_initiative_in_period_of_a_review(manager, kpi_registry):
    from improvement import selectors

    initiative = _open(manager, kpi_registry)
    quarter = date(timezone.localdate().year, 3 * ((timezone.localdate().month - 1) // 3) + 1, 1)
    assert list(selectors.initiatives_in_period(principal=manager, period_kind="quarter",
                                                period_start=quarter)) == [initiative]
    assert not selectors.initiatives_in_period(principal=manager, period_kind="quarter",
                                               period_start=date(2020, 1, 1)).exists()
