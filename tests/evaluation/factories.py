"""Helpers for evaluation tests: hand-made data with known answers, local (Asia/Shanghai) times."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from evaluation import services
from evaluation.models import PeriodKind
from evaluation.periods import Period

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOVEMBER = Period(PeriodKind.MONTH, date(2026, 11, 1))


def local(*args) -> datetime:
    """An aware datetime in the bank's time zone: local(2026, 11, 30, 23, 59)."""
    return datetime(*args, tzinfo=SHANGHAI)


def compute(period: Period = NOVEMBER, codes: list[str] | None = None) -> int:
    return services.kpi_snapshots_compute(period=period, kpi_codes=codes)


def churn_warning(customer, *, created_at: datetime, worked: bool = False):
    """A churn warning as lifecycle raises it: a retention task from a finished scoring run, opened at
    ``created_at``; ``worked``: already done (the customer may then get another one)."""
    from datetime import timedelta

    from lifecycle import services as lifecycle_services
    from lifecycle.models import ChurnModel, ModelStatus, RetentionTask, RunStatus, ScoringRun

    policy = lifecycle_services.lifecycle_defaults_ensure()
    model = ChurnModel.objects.filter(version=1).first() or ChurnModel.objects.create(
        version=1, algorithm="hist_gradient_boosting", status=ModelStatus.ACTIVE, file_name="x.joblib",
        sha256="0" * 64, policy=policy, train_cutoff=date(2025, 6, 1), validation_cutoff=date(2025, 12, 1),
        horizon_days=180, validation_method="temporal", train_customers=10, train_positives=1,
        validation_customers=10, validation_positives=1, metrics={}, features=[], top_features=[],
        library_versions={})
    as_of = created_at.astimezone(SHANGHAI).date()
    run = ScoringRun.objects.create(model=model, policy=policy, as_of=as_of, status=RunStatus.DONE,
                                    chunks_total=1, chunks_done=1, finished_at=created_at)
    return RetentionTask.objects.create(
        customer=customer, assigned_to=customer.relationship_manager, run=run, probability=0.8, reasons=[],
        stage="decline", suggested_action="care_call", due_on=as_of + timedelta(days=14), created_at=created_at,
        **({"status": "done", "outcome": "retained", "action_taken": "call", "recorded_at": created_at} if worked
           else {}))
