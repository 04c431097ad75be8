"""Reads of the lifecycle chapter, each scoped to the viewer through accounts.scope (STYLE.md §2).

Other apps (evaluation's churn KPIs) read these: ``stage_counts``, ``churn_scores_by_customer``,
``churn_score_latest_run``, ``retention_effect``. Scores are those of the latest finished scoring run.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncMonth
from django.utils import timezone

from accounts import permissions, scope
from customers import selectors as customer_selectors
from customers.models import Customer
from lifecycle import reasons as reason_words
from lifecycle.models import (
    STAGE_ORDER,
    ChunkStatus,
    ChurnModel,
    ChurnScore,
    CustomerStage,
    RetentionOutcome,
    RetentionStatus,
    RetentionTask,
    RunStatus,
    ScoringRun,
    StageStrategy,
    StageTransition,
)

# Staff who see their whole branch's lifecycle data (not only the customers they serve).
BRANCH_WIDE = (permissions.is_branch_manager,)


def _customer_q(principal, prefix: str = "customer__") -> Q | None:
    return scope.principal_customer_q(principal, prefix=prefix, branch_wide=BRANCH_WIDE)


def customer_get_visible_to(*, principal, customer_id: int) -> Customer:
    """One customer the principal may see (customers' scoped selector); Customer.DoesNotExist otherwise."""
    return customer_selectors.customer_list_visible_to(user=principal).get(pk=customer_id)


# --- Stages -----------------------------------------------------------------------------------------


def stage_for(*, customer: Customer) -> CustomerStage | None:
    """The customer's current stage (the caller fetched the customer through a scoped selector)."""
    return CustomerStage.objects.select_related("policy").filter(customer=customer).first()


def lifecycle_summary_for(*, customer: Customer) -> CustomerStage | None:
    """The customer's stage with, in the same query, the general strategy's action, the score of the
    latest finished run (probability, reasons, as of) and the open retention task (due, action)."""
    scores = ChurnScore.objects.filter(customer_id=OuterRef("customer_id"), run__status=RunStatus.DONE).order_by(
        "-run__as_of", "-run_id")
    task = RetentionTask.objects.filter(customer_id=OuterRef("customer_id"), status=RetentionStatus.OPEN)
    return (CustomerStage.objects.filter(customer=customer).select_related("policy")
            .annotate(
                strategy_action=Subquery(StageStrategy.objects.filter(stage=OuterRef("stage"), tier="")
                                         .values("action")[:1]),
                score_probability=Subquery(scores.values("probability")[:1]),
                score_reasons=Subquery(scores.values("reasons")[:1]),
                score_as_of=Subquery(scores.values("run__as_of")[:1]),
                task_due_on=Subquery(task.values("due_on")[:1]),
                task_action=Subquery(task.values("suggested_action")[:1]),
            ).first())


def stage_history_for(*, customer: Customer, limit: int = 10) -> list[StageTransition]:
    return list(StageTransition.objects.filter(customer=customer).order_by("-changed_on", "-id")[:limit])


def strategy_for(*, stage: str, tier: str = "") -> StageStrategy | None:
    strategies = {s.tier: s for s in StageStrategy.objects.filter(stage=stage)}
    return strategies.get(tier) or strategies.get("")


def stage_counts(*, principal, branch_id: int | None = None) -> dict[str, int]:
    """Customers per current stage among those the principal may see (every stage, zeros included)."""
    stages = scope.scoped(CustomerStage.objects.all(), _customer_q(principal))
    if branch_id:
        stages = stages.filter(branch_id=branch_id)
    counts = dict(stages.order_by().values_list("stage").annotate(n=Count("customer_id")).values_list("stage", "n"))
    return {stage.value: counts.get(stage.value, 0) for stage in STAGE_ORDER}


def stage_flows(*, principal, months: int = 12, today: date | None = None) -> dict:
    """Moves between stages per month over the last ``months``: {"months": [...], "flows": {(from, to): [...]}}."""
    today = today or timezone.localdate()
    since = (today.replace(day=1) - timedelta(days=31 * (months - 1))).replace(day=1)
    transitions = scope.scoped(StageTransition.objects.filter(changed_on__gte=since).exclude(from_stage=""),
                               _customer_q(principal))
    rows = (transitions.annotate(month=TruncMonth("changed_on")).order_by()
            .values_list("month", "from_stage", "to_stage").annotate(n=Count("id")))
    month_keys: list[date] = []
    cursor = since
    while cursor <= today:
        month_keys.append(cursor)
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    index = {month: position for position, month in enumerate(month_keys)}
    flows: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * len(month_keys))
    matrix: dict[tuple[str, str], int] = defaultdict(int)
    for month, from_stage, to_stage, n in rows:
        key = month.date() if hasattr(month, "date") else month
        if key in index:
            flows[(from_stage, to_stage)][index[key]] += n
        matrix[(from_stage, to_stage)] += n
    return {"months": month_keys, "flows": dict(flows), "matrix": dict(matrix)}


# --- Models and runs (administrators) -----------------------------------------------------------------


def churn_model_list() -> QuerySet[ChurnModel]:
    return ChurnModel.objects.select_related("trained_by", "activated_by").order_by("-version")


def scoring_run_list(*, limit: int = 20) -> list[ScoringRun]:
    runs = list(ScoringRun.objects.select_related("model").order_by("-started_at", "-id")[:limit])
    running = {run.pk for run in runs if run.status == RunStatus.RUNNING}
    if running:
        counts = dict(
            ScoringRun.objects.filter(pk__in=running).annotate(
                n=Count("chunks", filter=Q(chunks__status=ChunkStatus.RUNNING))).values_list("pk", "n")
        )
        for run in runs:
            run.chunks_running = counts.get(run.pk, 0)
    return runs


def churn_score_latest_run() -> ScoringRun | None:
    """The latest finished scoring run (whose scores every page shows)."""
    return ScoringRun.objects.filter(status=RunStatus.DONE).select_related("model", "policy").order_by(
        "-as_of", "-finished_at", "-id").first()


# --- Scores ---------------------------------------------------------------------------------------------


def churn_score_for(*, customer: Customer) -> ChurnScore | None:
    """The customer's score in the latest finished run (None when not scored there)."""
    run = churn_score_latest_run()
    if run is None:
        return None
    return ChurnScore.objects.filter(run=run, customer=customer).first()


def churn_score_list_visible_to(*, principal, min_probability: float | None = None,
                                run: ScoringRun | None = None) -> QuerySet[ChurnScore]:
    """Scores of the latest finished run the principal may see, highest risk first."""
    run = run or churn_score_latest_run()
    if run is None:
        return ChurnScore.objects.none()
    scores = scope.scoped(ChurnScore.objects.filter(run=run), _customer_q(principal))
    if min_probability is not None:
        scores = scores.filter(probability__gte=min_probability)
    return scores.select_related("customer", "customer__relationship_manager").order_by("-probability", "customer_id")


@dataclass(frozen=True)
class AtRiskList:
    """The at-risk list as its page (and its export) shows it: the run read, the policy's threshold, the rows."""

    run: ScoringRun | None
    threshold_pct: float
    min_pct: float
    scores: QuerySet[ChurnScore]


AT_RISK_DEFAULT_THRESHOLD_PCT = 50.0  # shown before any scoring run has finished (the policy's default)


def at_risk_list_visible_to(*, principal, min_probability_pct: float | None = None) -> AtRiskList:
    """Scores of the latest run at or above ``min_probability_pct`` (default: the run's high-risk level),
    highest risk first, limited to the customers the principal may see."""
    run = churn_score_latest_run()
    threshold_pct = float(run.policy.high_risk_probability_pct) if run else AT_RISK_DEFAULT_THRESHOLD_PCT
    min_pct = threshold_pct if min_probability_pct is None else float(min_probability_pct)
    scores = churn_score_list_visible_to(principal=principal, min_probability=min_pct / 100, run=run)
    return AtRiskList(run=run, threshold_pct=threshold_pct, min_pct=min_pct, scores=scores)


def churn_scores_by_customer(*, principal, customer_ids: list[int] | None = None) -> dict[int, float]:
    """{customer id: churn probability} from the latest finished run, for the customers the principal may see."""
    run = churn_score_latest_run()
    if run is None:
        return {}
    scores = scope.scoped(ChurnScore.objects.filter(run=run), _customer_q(principal))
    if customer_ids is not None:
        scores = scores.filter(customer_id__in=list(customer_ids))
    return dict(scores.values_list("customer_id", "probability"))


def reasons_text(reasons: list[dict]) -> list[str]:
    """Stored reasons worded in the active language."""
    return [reason_words.reason_text(reason) for reason in reasons or []]


# --- Retention ----------------------------------------------------------------------------------------


def retention_task_list_visible_to(*, principal, status: str | None = RetentionStatus.OPEN) -> QuerySet[RetentionTask]:
    """Retention tasks of the customers the principal may see; ``status=None`` for every status."""
    tasks = scope.scoped(RetentionTask.objects.all(), _customer_q(principal))
    if status:
        tasks = tasks.filter(status=status)
    return tasks.select_related("customer", "assigned_to").order_by("status", "due_on", "-probability", "id")


def retention_task_get_visible_to(*, principal, task_id: int) -> RetentionTask:
    """One task the principal may see; RetentionTask.DoesNotExist otherwise (a 404)."""
    return retention_task_list_visible_to(principal=principal, status=None).get(pk=task_id)


def retention_effect(*, principal) -> dict:
    """How retention work turned out, for the tasks the principal may see.

    precision_in_practice: share of tasked (high-risk) customers who did churn later;
    worked: tasks with an action recorded, unworked: the rest; retained rate = share not churned.
    """
    tasks = scope.scoped(RetentionTask.objects.all(), _customer_q(principal))
    totals = tasks.aggregate(
        total=Count("id"), churned=Count("id", filter=Q(churned_on__isnull=False)),
        worked=Count("id", filter=Q(status=RetentionStatus.DONE)),
        worked_churned=Count("id", filter=Q(status=RetentionStatus.DONE, churned_on__isnull=False)),
        retained_recorded=Count("id", filter=Q(outcome=RetentionOutcome.RETAINED)),
    )
    unworked = totals["total"] - totals["worked"]
    unworked_churned = totals["churned"] - totals["worked_churned"]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    return {
        **totals,
        "unworked": unworked,
        "unworked_churned": unworked_churned,
        "precision_in_practice": share(totals["churned"], totals["total"]),
        "retained_rate_worked": share(totals["worked"] - totals["worked_churned"], totals["worked"]),
        "retained_rate_unworked": share(unworked - unworked_churned, unworked),
    }
