from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import Role
from lifecycle import services
from lifecycle.models import ChurnModel, ChurnScore, ModelStatus, RetentionTask, RunStatus, ScoringRun
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory

TODAY = date(2026, 12, 4)


@pytest.fixture(autouse=True)
def model_dir(settings, tmp_path):
    """Model files of a test go to its own directory."""
    settings.MODEL_DIR = tmp_path / "models"
    return settings.MODEL_DIR


@pytest.fixture(autouse=True)
def _lifecycle_defaults(request):
    """Transactional tests elsewhere flush the policy the data migration seeded; put it back."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or "transactional_db" in request.fixturenames
    if not (transactional or marker or "db" in request.fixturenames):
        return
    request.getfixturevalue("transactional_db" if transactional else "db")
    services.lifecycle_defaults_ensure()


@pytest.fixture
def scored(branch, db):
    """A finished scoring run (no model file needed to read it): one high-risk customer of the RM
    ``rm_user`` in the home branch with an open retention task, one in another branch."""
    rm = UserFactory(username="rm_user", staff_number="S30001", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    other_branch = BranchFactory(code="B0909", name="Other Branch")
    own = CustomerFactory(branch=branch, relationship_manager=rm, name="王小明")
    foreign = CustomerFactory(branch=other_branch, name="赵外行")
    policy = services.lifecycle_defaults_ensure()
    model = ChurnModel.objects.create(
        version=1, algorithm="hist_gradient_boosting", status=ModelStatus.ACTIVE, file_name="x.joblib", sha256="0" * 64,
        policy=policy, train_cutoff=TODAY - timedelta(days=360), validation_cutoff=TODAY - timedelta(days=180),
        horizon_days=180, validation_method="temporal", train_customers=100, train_positives=10,
        validation_customers=100, validation_positives=12,
        metrics={"roc_auc": 0.91, "pr_auc": 0.5, "brier": 0.05, "top_decile_lift": 4.2, "top_decile_precision": 0.4,
                 "comparison": {"hist_gradient_boosting": {"roc_auc": 0.91}}, "calibration": [[0.1, 0.12, 50]]},
        features=[], top_features=[["days_since_last_txn", 0.4]], library_versions={"scikit-learn": "1.9.1"},
    )
    run = ScoringRun.objects.create(model=model, policy=policy, as_of=TODAY, status=RunStatus.DONE, chunks_total=1,
                                    chunks_done=1, customers_total=2, customers_scored=2, high_risk=2,
                                    finished_at=timezone.make_aware(datetime(2026, 12, 4, 3, 0)))
    reasons = [{"code": "inactivity", "params": {"days": 94}, "contribution": 0.8}]
    scores = [ChurnScore.objects.create(run=run, customer=c, branch=c.branch,
                                        relationship_manager=c.relationship_manager, probability=0.83, raw_score=1.6,
                                        reasons=reasons) for c in (own, foreign)]
    task = RetentionTask.objects.create(customer=own, assigned_to=rm, score=scores[0], run=run, probability=0.83,
                                        reasons=reasons, stage="decline", suggested_action="care_call",
                                        due_on=TODAY + timedelta(days=14))
    foreign_task = RetentionTask.objects.create(customer=foreign, score=scores[1], run=run, probability=0.83,
                                                reasons=reasons, stage="decline", suggested_action="care_call",
                                                due_on=TODAY + timedelta(days=14))
    services.stage_run(as_of=TODAY)
    return {"rm": rm, "own": own, "foreign": foreign, "run": run, "task": task, "foreign_task": foreign_task,
            "model": model}
