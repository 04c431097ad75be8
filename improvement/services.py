"""Every write of the continuous-improvement chapter (STYLE §1): initiatives through PDCA, suggestions
and their rewards, rewards to customers for feedback, and the RM scorecards.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch, Role, User
from complaints.models import Complaint
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers.models import Customer
from improvement import kpis
from improvement.models import (
    PHASE_TRANSITIONS,
    SUGGESTION_TRANSITIONS,
    CustomerFeedbackReward,
    Initiative,
    InitiativeEvent,
    InitiativePhaseNote,
    PeriodKind,
    Phase,
    Scorecard,
    ScorecardPolicy,
    StaffReward,
    StaffRewardReason,
    Suggestion,
    SuggestionStatus,
    Verdict,
    period_before,
    period_end_of,
    period_start_of,
)
from segmentation.models import CustomerSegment
from service.models import SurveyResponse
from training.models import Enrolment

SCORECARDS_COMPUTE_TASK = "improvement.scorecards_compute_task"
CSAT_SATISFIED_MIN = 4  # CSAT 4 or 5 of 5 counts as satisfied (the manual's "satisfaction ≥ 85 %")
_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


# --- Initiatives -----------------------------------------------------------------------------


@transaction.atomic
def initiative_create(*, by: User, title: str, problem: str, owner: User, team: list[User], branch: Branch | None,
                      kpi_code: str, kpi_period_kind: str, baseline_period_start: date, target_value: Decimal,
                      check_period_start: date, baseline_value: Decimal | None = None,
                      suggestion: Suggestion | None = None, plan_notes: str = "") -> Initiative:
    """Open an initiative in its plan phase, its baseline read from the KPI registry when not given."""
    definition = kpis.kpi_definition(kpi_code)
    if definition is None:
        raise ApplicationError.invalid(_("Choose a KPI from the registry."), field="kpi_code")
    if kpi_period_kind not in PeriodKind.values:
        raise ApplicationError.invalid(_("Unknown period."), field="kpi_period_kind")
    baseline_period_start = period_start_of(kpi_period_kind, baseline_period_start)
    check_period_start = period_start_of(kpi_period_kind, check_period_start)
    if check_period_start <= baseline_period_start:
        raise ApplicationError.invalid(_("The check period comes after the baseline period."),
                                       field="check_period_start")
    if baseline_value is None:
        baseline_value = kpis.kpi_measured(kpi_code=kpi_code, period_kind=kpi_period_kind,
                                           period_start=baseline_period_start,
                                           branch_id=branch.pk if branch else None)
        if baseline_value is None:
            raise ApplicationError.invalid(
                _("The KPI has no measured value for the baseline period; enter the baseline."),
                field="baseline_value")
    if suggestion is not None and suggestion.status != SuggestionStatus.ADOPTED:
        raise ApplicationError.invalid(_("Only an adopted suggestion becomes an initiative."), field="suggestion")
    direction = kpis.kpi_direction(definition) or ("lower" if target_value < baseline_value else "higher")
    now = timezone.now()
    initiative = Initiative.objects.create(
        title=title, problem=problem, owner=owner, branch=branch, suggestion=suggestion, kpi_code=kpi_code,
        kpi_period_kind=kpi_period_kind, baseline_period_start=baseline_period_start,
        baseline_value=baseline_value, target_value=target_value, direction=direction,
        check_period_start=check_period_start, created_by=by, created_at=now,
    )
    initiative.team.set(team)
    InitiativePhaseNote.objects.create(initiative=initiative, cycle=1, phase=Phase.PLAN,
                                       starts_on=timezone.localdate(), notes=plan_notes)
    InitiativeEvent.objects.create(initiative=initiative, from_phase="", to_phase=Phase.PLAN, by=by, occurred_at=now)
    return initiative


def initiative_check_reading(*, initiative: Initiative) -> Decimal | None:
    """The KPI's measured value for the initiative's check period and scope (None: not measured yet)."""
    return kpis.kpi_measured(kpi_code=initiative.kpi_code, period_kind=initiative.kpi_period_kind,
                             period_start=initiative.check_period_start, branch_id=initiative.branch_id)


@transaction.atomic
def initiative_phase_note_save(*, initiative: Initiative, phase: str, starts_on: date, ends_on: date | None,
                               notes: str) -> InitiativePhaseNote:
    """Dates and notes of a phase of the current cycle (the phase under way or one already passed)."""
    if phase not in Phase.values or phase == Phase.CLOSED:
        raise ApplicationError.invalid(_("Unknown phase."), field="phase")
    if ends_on is not None and ends_on < starts_on:
        raise ApplicationError.invalid(_("A phase ends after it starts."), field="ends_on")
    note, _created = InitiativePhaseNote.objects.update_or_create(
        initiative=initiative, cycle=initiative.cycle, phase=phase,
        defaults={"starts_on": starts_on, "ends_on": ends_on, "notes": notes})
    return note


@transaction.atomic
def initiative_advance(*, initiative: Initiative, to_phase: str, by: User) -> Initiative:
    """Move an initiative to its next PDCA phase.

    Closing reads the KPI's measured value for the check period and records the verdict the data
    gives (met / not met); with no measured value there is nothing to judge by, and it is refused.
    A met target pays the bonus promised to the suggestion the initiative came from.
    """
    initiative = Initiative.objects.select_for_update().get(pk=initiative.pk)
    current = Phase(initiative.phase)
    if to_phase not in PHASE_TRANSITIONS[current]:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    now, today = timezone.now(), timezone.localdate()
    InitiativePhaseNote.objects.filter(initiative=initiative, cycle=initiative.cycle, phase=current,
                                       ends_on__isnull=True).update(ends_on=today)
    measured = None
    if to_phase == Phase.CLOSED:
        measured = initiative_check_reading(initiative=initiative)
        if measured is None:
            raise ApplicationError(ErrorCode.INVALID_TRANSITION, _(
                "The KPI has no measured value for the check period yet; the verdict waits for the data."))
        initiative.measured_value = measured
        initiative.verdict = initiative.verdict_for(measured)
        initiative.closed_at = now
    elif to_phase == Phase.PLAN:
        initiative.cycle += 1
    if to_phase != Phase.CLOSED:
        InitiativePhaseNote.objects.get_or_create(initiative=initiative, cycle=initiative.cycle, phase=to_phase,
                                                  defaults={"starts_on": today})
    initiative.phase = to_phase
    initiative.save()
    InitiativeEvent.objects.create(initiative=initiative, from_phase=current, to_phase=to_phase,
                                   measured_value=measured, by=by, occurred_at=now)
    suggestion = initiative.suggestion
    if (initiative.verdict == Verdict.MET and suggestion is not None and suggestion.bonus_points_if_met
            and not StaffReward.objects.filter(suggestion=suggestion, initiative=initiative).exists()):
        StaffReward.objects.create(suggestion=suggestion, initiative=initiative, user_id=suggestion.submitted_by_id,
                                   reason=StaffRewardReason.TARGET_MET, points=suggestion.bonus_points_if_met,
                                   awarded_at=now, awarded_by=by)
    return initiative


# --- Suggestions -----------------------------------------------------------------------------


@transaction.atomic
def suggestion_submit(*, by: User, title: str, body: str) -> Suggestion:
    if not title.strip() or not body.strip():
        raise ApplicationError.invalid(_("Give the suggestion a title and say what to improve."))
    return Suggestion.objects.create(title=title.strip(), body=body.strip(), submitted_by=by, branch_id=by.branch_id,
                                     submitted_at=timezone.now())


def _suggestion_move(suggestion: Suggestion, to_status: str) -> Suggestion:
    suggestion = Suggestion.objects.select_for_update().get(pk=suggestion.pk)
    if to_status not in SUGGESTION_TRANSITIONS[SuggestionStatus(suggestion.status)]:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    return suggestion


@transaction.atomic
def suggestion_review_start(*, suggestion: Suggestion, by: User) -> Suggestion:
    suggestion = _suggestion_move(suggestion, SuggestionStatus.UNDER_REVIEW)
    suggestion.status = SuggestionStatus.UNDER_REVIEW
    suggestion.reviewed_by = by
    suggestion.save(update_fields=["status", "reviewed_by"])
    return suggestion


@transaction.atomic
def suggestion_decide(*, suggestion: Suggestion, by: User, adopt: bool, reason: str, reward_points: int = 0,
                      bonus_points_if_met: int = 0) -> Suggestion:
    """Adopt (paying the reward points at once) or reject a suggestion, always with a reason."""
    to_status = SuggestionStatus.ADOPTED if adopt else SuggestionStatus.REJECTED
    suggestion = _suggestion_move(suggestion, to_status)
    if not reason.strip():
        raise ApplicationError.invalid(_("Give the reason for the decision."), field="reason")
    if not adopt and (reward_points or bonus_points_if_met):
        raise ApplicationError.invalid(_("A rejected suggestion earns no points."), field="reward_points")
    if not 0 <= reward_points <= 10_000 or not 0 <= bonus_points_if_met <= 10_000:
        raise ApplicationError.invalid(_("Points are between 0 and 10,000."), field="reward_points")
    now = timezone.now()
    suggestion.status = to_status
    suggestion.reviewed_by = by
    suggestion.decided_at = now
    suggestion.decision_reason = reason.strip()
    suggestion.reward_points = reward_points
    suggestion.bonus_points_if_met = bonus_points_if_met
    suggestion.save()
    if adopt and reward_points:
        StaffReward.objects.create(suggestion=suggestion, user_id=suggestion.submitted_by_id,
                                   reason=StaffRewardReason.ADOPTED, points=reward_points, awarded_at=now,
                                   awarded_by=by)
    return suggestion


# --- Customers' feedback ---------------------------------------------------------------------


@transaction.atomic
def customer_feedback_reward_grant(*, survey_response: SurveyResponse, by: User, kind: str, points: int,
                                   note: str = "") -> CustomerFeedbackReward:
    """Thank a customer for a survey answer, once per answer. The caller has checked the answer is in scope."""
    if CustomerFeedbackReward.objects.filter(survey_response=survey_response).exists():
        raise ApplicationError(ErrorCode.CONFLICT, _("This answer has already been rewarded."))
    if not 0 <= points <= 100_000:
        raise ApplicationError.invalid(_("Points are between 0 and 100,000."), field="points")
    reward = CustomerFeedbackReward.objects.create(
        survey_response=survey_response, customer_id=survey_response.customer_id, kind=kind, points=points,
        note=note, granted_by=by, granted_at=timezone.now())
    return reward


# --- Supervision exports ---------------------------------------------------------------------


def review_export_record(*, by: User, period_kind: str, period_start: date, rows: int) -> None:
    """Audit an export of a supervision review list (who took which list, how many rows)."""
    audit_record(actor=by, action="improvement.review_export",
                 detail={"period_kind": period_kind, "period_start": period_start.isoformat(), "rows": rows})


# --- Scorecards ------------------------------------------------------------------------------


def scorecard_policy_in_force(*, on: date) -> ScorecardPolicy:
    policy = ScorecardPolicy.objects.filter(effective_from__lte=on).order_by("-effective_from", "-version").first()
    if policy is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, _("No scorecard policy is in force for this period."))
    return policy


def _local_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))


def scorecard_figures(*, period_start: date, period_end: date, relationship_manager_ids=None) -> list[dict]:
    """Each active RM's raw figures for [period_start, period_end), from the lower apps' tables.

    Set-based: one GROUP BY per source table (customers, survey answers, segments' CLV, complaints,
    enrolments), each a single pass with conditional counts, merged per RM here. (Correlated
    subqueries per RM read the same rows RM by RM and measured 4x slower; bench/scorecards_bench.py.)
    Returns dicts: id, branch_id, customers, retained, answered, satisfied, clv_total, complaints,
    resolved, resolved_in_sla, training_due, training_done.
    """
    start_at, end_at = _local_midnight(period_start), _local_midnight(period_end)
    rms = User.objects.filter(is_active=True, groups__name=Role.RELATIONSHIP_MANAGER.value)
    if relationship_manager_ids is not None:
        rms = rms.filter(pk__in=relationship_manager_ids)
    rows = {rm_id: {"id": rm_id, "branch_id": branch_id, "customers": 0, "retained": 0, "answered": 0,
                    "satisfied": 0, "clv_total": Decimal("0"), "complaints": 0, "resolved": 0, "resolved_in_sla": 0,
                    "training_due": 0, "training_done": 0}
            for rm_id, branch_id in rms.values_list("pk", "branch_id").order_by("pk")}

    def merge(queryset, key: str) -> None:
        for figures in queryset:
            row = rows.get(figures.pop(key))
            if row is not None:
                row.update({name: value for name, value in figures.items() if value is not None})

    rm = "relationship_manager_id"
    merge(Customer.objects.filter(relationship_manager__isnull=False)
          .filter(Q(customer_since__isnull=True) | Q(customer_since__lt=period_start))
          .values(rm).order_by()
          .annotate(customers=Count("pk", filter=Q(closed_on__isnull=True) | Q(closed_on__gte=period_start)),
                    retained=Count("pk", filter=Q(closed_on__isnull=True) | Q(closed_on__gte=period_end))), rm)
    merge(SurveyResponse.objects.filter(submitted_at__gte=start_at, submitted_at__lt=end_at, csat__isnull=False,
                                        customer__relationship_manager__isnull=False)
          .values(rm_key=F("customer__relationship_manager_id")).order_by()
          .annotate(answered=Count("pk"), satisfied=Count("pk", filter=Q(csat__gte=CSAT_SATISFIED_MIN))), "rm_key")
    merge(CustomerSegment.objects.filter(customer__closed_on__isnull=True, customer__relationship_manager__isnull=False)
          .values(rm_key=F("customer__relationship_manager_id")).order_by()
          .annotate(clv_total=Sum("clv_cny")), "rm_key")
    received = Q(received_at__gte=start_at, received_at__lt=end_at)
    resolved = Q(first_resolved_at__gte=start_at, first_resolved_at__lt=end_at)
    merge(Complaint.objects.filter(received | resolved, customer__relationship_manager__isnull=False)
          .values(rm_key=F("customer__relationship_manager_id")).order_by()
          .annotate(complaints=Count("pk", filter=received), resolved=Count("pk", filter=resolved),
                    resolved_in_sla=Count("pk", filter=resolved & Q(first_response_breached_at__isnull=True,
                                                                    resolution_breached_at__isnull=True))),
          "rm_key")
    merge(Enrolment.objects.filter(due_on__lt=period_end).values("user_id").order_by()
          .annotate(training_due=Count("pk"), training_done=Count("pk", filter=Q(completed_at__lt=end_at))),
          "user_id")
    return list(rows.values())


def _pct(part: int, whole: int) -> Decimal | None:
    return (_HUNDRED * part / whole).quantize(_CENT, rounding=ROUND_HALF_UP) if whole else None


def _clamp(value: Decimal) -> Decimal:
    return min(_HUNDRED, max(Decimal(0), value))


def scorecard_components(*, policy: ScorecardPolicy, satisfaction_pct, retention_pct, clv_growth_pct,
                         complaints_per_100, sla_pct, training_completion_pct) -> dict[str, Decimal | None]:
    """Each component scored 0-100 (None: no data), by the rules ScorecardPolicy documents."""
    clv = None
    if clv_growth_pct is not None:
        clv = _clamp(50 + 50 * Decimal(clv_growth_pct) / policy.clv_growth_pct_for_full)
    complaints = None
    if complaints_per_100 is not None:
        complaints = _clamp(_HUNDRED * (1 - Decimal(complaints_per_100) / policy.complaints_per_100_at_zero))
    return {
        "satisfaction": satisfaction_pct, "retention": retention_pct, "clv_growth": clv,
        "complaints": complaints, "sla": sla_pct, "training": training_completion_pct,
    }


def scorecard_score(*, policy: ScorecardPolicy, components: dict[str, Decimal | None]) -> Decimal | None:
    """The weighted mean of the components that have data; None when none has."""
    weights = {
        "satisfaction": policy.weight_satisfaction, "retention": policy.weight_retention,
        "clv_growth": policy.weight_clv_growth, "complaints": policy.weight_complaints,
        "sla": policy.weight_sla, "training": policy.weight_training,
    }
    present = {name: value for name, value in components.items() if value is not None and weights[name]}
    weight_sum = sum(weights[name] for name in present)
    if not weight_sum:
        return None
    total = sum(Decimal(weights[name]) * Decimal(value) for name, value in present.items())
    return (total / weight_sum).quantize(_CENT, rounding=ROUND_HALF_UP)


def _ranks(scores: list[tuple[int, Decimal | None]]) -> dict[int, int]:
    """Competition ranking (1, 2, 2, 4) by score, highest first; RMs without a score get no rank."""
    ranked = sorted((score, rm_id) for rm_id, score in scores if score is not None)
    ranked.reverse()
    ranks, previous, position = {}, None, 0
    for index, (score, rm_id) in enumerate(ranked, start=1):
        if score != previous:
            position, previous = index, score
        ranks[rm_id] = position
    return ranks


@transaction.atomic
def scorecards_compute(*, period_kind: str, period_start: date, now: datetime | None = None) -> int:
    """Compute (or recompute) every RM's scorecard for a period with the policy in force at its start."""
    period_start = period_start_of(period_kind, period_start)
    period_end = period_end_of(period_kind, period_start)
    policy = scorecard_policy_in_force(on=period_start)
    now = now or timezone.now()
    previous_clv = dict(Scorecard.objects.filter(period_kind=period_kind,
                                                 period_start=period_before(period_kind, period_start))
                        .values_list("relationship_manager_id", "clv_total_cny"))
    cards = []
    for row in scorecard_figures(period_start=period_start, period_end=period_end):
        before = previous_clv.get(row["id"])
        clv_growth = None
        if before:
            clv_growth = (_HUNDRED * (row["clv_total"] - before) / before).quantize(_CENT, rounding=ROUND_HALF_UP)
        figures = {
            "satisfaction_pct": _pct(row["satisfied"], row["answered"]),
            "retention_pct": _pct(row["retained"], row["customers"]),
            "clv_growth_pct": clv_growth,
            "complaints_per_100": _pct(row["complaints"], row["customers"]),
            "sla_pct": _pct(row["resolved_in_sla"], row["resolved"]),
            "training_completion_pct": _pct(row["training_done"], row["training_due"]),
        }
        components = scorecard_components(policy=policy, **figures)
        cards.append(Scorecard(
            policy=policy, period_kind=period_kind, period_start=period_start, relationship_manager_id=row["id"],
            branch_id=row["branch_id"], customers=row["customers"], clv_total_cny=row["clv_total"],
            complaints=row["complaints"], components={k: None if v is None else str(v.quantize(_CENT))
                                                      for k, v in components.items()},
            score=scorecard_score(policy=policy, components=components), computed_at=now, **figures,
        ))
    by_branch: dict[int | None, list[tuple[int, Decimal | None]]] = defaultdict(list)
    for card in cards:
        by_branch[card.branch_id].append((card.relationship_manager_id, card.score))
    ranks: dict[int, int] = {}
    for scores in by_branch.values():
        ranks.update(_ranks(scores))
    for card in cards:
        card.rank_in_branch = ranks.get(card.relationship_manager_id)
    update_fields = ["policy", "branch", "customers", "satisfaction_pct", "retention_pct", "clv_total_cny",
                     "clv_growth_pct", "complaints", "complaints_per_100", "sla_pct", "training_completion_pct",
                     "components", "score", "rank_in_branch", "computed_at"]
    Scorecard.objects.bulk_create(cards, batch_size=1000, update_conflicts=True,
                                  unique_fields=["relationship_manager", "period_kind", "period_start"],
                                  update_fields=update_fields)
    return len(cards)


@transaction.atomic
def scorecards_compute_request(*, by: User, period_kind: str, period_start: date) -> None:
    """Queue one period's computation (published after commit through the outbox), and audit who asked."""
    period_start = period_start_of(period_kind, period_start)
    outbox_enqueue(task_name=SCORECARDS_COMPUTE_TASK, queue="reports",
                   kwargs={"period_kind": period_kind, "period_start": period_start.isoformat()})
    audit_record(actor=by, action="improvement.scorecards_compute",
                 detail={"period_kind": period_kind, "period_start": period_start.isoformat()})
