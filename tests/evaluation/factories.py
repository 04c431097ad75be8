"""Helpers for evaluation tests: hand-made data with known answers, local (Asia/Shanghai) times."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from evaluation import services
from evaluation.models import PeriodKind
from evaluation.periods import Period
from segmentation.models import CustomerSegment

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(PeriodKind.MONTH, date(2026, 11, 1))


def local(*args) -> datetime:
    """An aware datetime in the bank's time zone: local(2026, 11, 30, 23, 59)."""
    return datetime(*args, tzinfo=SHANGHAI)


def compute(period: Period = NOVEMBER, codes: list[str] | None = None) -> int:
    return services.kpi_snapshots_compute(period=period, kpi_codes=codes)


def _churn_model():
    from lifecycle import services as lifecycle_services
    from lifecycle.models import ChurnModel, ModelStatus

    policy = lifecycle_services.lifecycle_defaults_ensure()
    return policy, ChurnModel.objects.filter(version=1).first() or ChurnModel.objects.create(
        version=1, algorithm="hist_gradient_boosting", status=ModelStatus.ACTIVE, file_name="x.joblib",
        sha256="0" * 64, policy=policy, train_cutoff=date(2025, 6, 1), validation_cutoff=date(2025, 12, 1),
        horizon_days=180, validation_method="temporal", train_customers=10, train_positives=1,
        validation_customers=10, validation_positives=1, metrics={}, features=[], top_features=[],
        library_versions={})


def scoring_run(scores: dict, *, as_of: date = date(2026, 12, 4), reasons: list | None = None):
    """A finished scoring run with {customer: churn probability}; every score gets ``reasons``."""
    from lifecycle.models import ChurnScore, RunStatus, ScoringRun

    policy, model = _churn_model()
    run = ScoringRun.objects.create(model=model, policy=policy, as_of=as_of, status=RunStatus.DONE, chunks_total=1,
                                    chunks_done=1, customers_total=len(scores), customers_scored=len(scores),
                                    finished_at=datetime(as_of.year, as_of.month, as_of.day, 3, tzinfo=SHANGHAI))
    for customer, probability in scores.items():
        ChurnScore.objects.create(run=run, customer=customer, branch=customer.branch,
                                  relationship_manager=customer.relationship_manager, probability=probability,
                                  raw_score=0.0, reasons=reasons or [])
    return run


def churn_warning(customer, *, created_at: datetime, worked: bool = False):
    """A churn warning as lifecycle raises it: a retention task from a finished scoring run, opened at
    ``created_at``; ``worked``: already done (the customer may then get another one)."""
    from datetime import timedelta

    from lifecycle.models import RetentionTask, RunStatus, ScoringRun

    policy, model = _churn_model()
    as_of = created_at.astimezone(SHANGHAI).date()
    run = ScoringRun.objects.create(model=model, policy=policy, as_of=as_of, status=RunStatus.DONE,
                                    chunks_total=1, chunks_done=1, finished_at=created_at)
    return RetentionTask.objects.create(
        customer=customer, assigned_to=customer.relationship_manager, run=run, probability=0.8, reasons=[],
        stage="decline", suggested_action="care_call", due_on=as_of + timedelta(days=14), created_at=created_at,
        **({"status": "done", "outcome": "retained", "action_taken": "call", "recorded_at": created_at} if worked
           else {}))


def classified(customer, tier: str, clv: str):
    """The customer with a current tier and CLV (as the classification pass writes them)."""
    CustomerSegment.objects.create(
        customer=customer, policy_id=1, value_class=tier, behaviour_class="active", risk_class="low",
        branch=customer.branch, run_id=1, computed_tier=tier, tier=tier, value_rule="r", behaviour_rule="r",
        amount_cny=0, transaction_count=0, service_count=0, assets_cny=0, large_movements=0,
        monthly_outflow_cny=0, account_changes=0, risk_points=0, annual_margin_cny=0, retention_pct=0,
        clv_cny=Decimal(clv), fingerprint=0, as_of=local(2026, 11, 1))
    return customer
