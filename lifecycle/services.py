"""Writes of the lifecycle chapter: stages, churn models, scoring runs and retention work.

Stages (``stage_run``): one set-based pass as of a date, against the latest LifecyclePolicy
(defaults in parentheses), first rule that applies wins:

  churned  closed on or before the date (rule ``closed``), or no transaction for
           churn_inactive_days (180) while a customer for longer than that (``inactive``);
  new      a customer for less than new_customer_months (12) (``new_customer``);
  decline  the last quarter's transaction amount (quarter_days, 91) fell by more than
           decline_min_pct (30 %) from the quarter before (``activity_falling``), or the net
           outflow over the two quarters is more than decline_min_pct of the assets held
           (``assets_falling``);
  growth   the last quarter's amount rose by more than growth_min_pct (20 %) (``activity_rising``)
           or the net inflow over the two quarters is more than growth_min_pct of the assets
           (``assets_rising``);
  mature   the rest (``stable``).
The figures behind each stage are stored with it; a change of stage writes a StageTransition
with the rule and figures. Run nightly after the classification pass (beat, 02:15).

Churn model: lifecycle/features.py (features and label), lifecycle/modelling.py (numerics).
Scoring runs: a run fixes its population (open, not yet churned customers as of the date) in
chunks of CHUNK_SIZE; each chunk is one task on the ``scoring`` queue that reads its features in
one statement, predicts, explains and writes its scores in one INSERT, and marks itself done,
all in one transaction holding the chunk's row lock. A chunk is therefore scored exactly once,
however often its task runs; a worker killed mid-chunk rolls back, and the sweeper (beat, every
5 minutes) re-queues chunks queued or running for longer than SWEEP_AFTER_SECONDS.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import joblib
import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg2.extras import Json, execute_values

from accounts import permissions, scope
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers.models import Customer, Holding, Product, Transaction
from lifecycle import features as feature_sql
from lifecycle import modelling, reasons
from lifecycle import permissions as lifecycle_permissions
from lifecycle.models import (
    ChunkStatus,
    ChurnModel,
    ChurnScore,
    CustomerStage,
    LifecyclePolicy,
    ModelStatus,
    RetentionOutcome,
    RetentionStatus,
    RetentionTask,
    RunStatus,
    ScoringChunk,
    ScoringRun,
    Stage,
    StageRule,
    StageRun,
    StageStrategy,
    StageTransition,
    SuggestedAction,
    ValidationMethod,
)
from segmentation.models import CustomerSegment

logger = logging.getLogger(__name__)

AUDIT_POLICY_CREATE = "lifecycle.policy_create"
AUDIT_MODEL_TRAIN = "lifecycle.model_train"
AUDIT_MODEL_ACTIVATE = "lifecycle.model_activate"
AUDIT_SCORING_REQUEST = "lifecycle.scoring_request"
AUDIT_RETENTION_RECORD = "lifecycle.retention_record"

SCORING_QUEUE = "scoring"
SCORING_PLAN_TASK = "lifecycle.scoring_run_plan_task"
SCORING_CHUNK_TASK = "lifecycle.scoring_chunk_task"
RETENTION_TASKS_TASK = "lifecycle.retention_tasks_create_task"

CHUNK_SIZE = 1000
SWEEP_AFTER_SECONDS = 600
POLICY_LOCK_KEY = int.from_bytes(b"crmlcpol", "big")
STAGE_LOCK_KEY = int.from_bytes(b"crmlcstg", "big")
TRAIN_LOCK_KEY = int.from_bytes(b"crmlctrn", "big")
DEFAULT_HORIZON_DAYS = 180
# Below these, a later cutoff cannot validate a model trained on an earlier one: k-fold instead.
MIN_TEMPORAL_CUSTOMERS = 200
MIN_TEMPORAL_POSITIVES = 20
MIN_TRAINING_POSITIVES = 10

DEFAULT_POLICY = {}
# Stage -> next suggested action (MANUAL 3.4: new: product introduction; mature: customised
# service; decline: care and retention); a VIP in decline gets a visit, not a call.
DEFAULT_STRATEGIES = (
    (Stage.NEW, "", SuggestedAction.INTRODUCE_PRODUCTS),
    (Stage.GROWTH, "", SuggestedAction.DEEPEN_RELATIONSHIP),
    (Stage.MATURE, "", SuggestedAction.CUSTOMISED_SERVICE),
    (Stage.DECLINE, "", SuggestedAction.CARE_CALL),
    (Stage.DECLINE, "vip", SuggestedAction.PRIORITY_VISIT),
    (Stage.DECLINE, "important", SuggestedAction.PRIORITY_VISIT),
    (Stage.CHURNED, "", SuggestedAction.WIN_BACK),
)


# --- Policy -------------------------------------------------------------------------------------


def lifecycle_defaults_ensure() -> LifecyclePolicy:
    """Create policy version 1 and the stage strategies with the documented defaults if missing."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
        policy = LifecyclePolicy.objects.order_by("-version").first()
        if policy is None:
            policy = LifecyclePolicy.objects.create(version=1, **DEFAULT_POLICY)
        for stage, tier, action in DEFAULT_STRATEGIES:
            StageStrategy.objects.get_or_create(stage=stage, tier=tier, defaults={"action": action})
    return policy


def lifecycle_policy_latest() -> LifecyclePolicy:
    policy = LifecyclePolicy.objects.order_by("-version").first()
    if policy is None:
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("No lifecycle policy is configured."))
    return policy


POLICY_NUMBER_FIELDS = tuple(
    field.name for field in LifecyclePolicy._meta.concrete_fields
    if field.name not in ("id", "version", "created_at", "created_by")
)


@transaction.atomic
def lifecycle_policy_create(*, by: User, **numbers) -> LifecyclePolicy:
    """Add a policy version (latest + 1) from the latest one's numbers changed by ``numbers``."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    unknown = sorted(set(numbers) - set(POLICY_NUMBER_FIELDS))
    if unknown:
        raise ApplicationError.invalid(_("Unknown policy field."), field=unknown[0])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [POLICY_LOCK_KEY])
    latest = LifecyclePolicy.objects.order_by("-version").first()
    values = {name: getattr(latest, name) for name in POLICY_NUMBER_FIELDS} if latest else {}
    values.update(numbers)
    policy = LifecyclePolicy(version=(latest.version if latest else 0) + 1, created_by=by, **values)
    policy.full_clean(exclude=["version", "created_by"])
    policy.save(force_insert=True)
    audit_record(actor=by, action=AUDIT_POLICY_CREATE, target=policy,
                 detail={"version": policy.version, **{k: str(v) for k, v in numbers.items()}})
    return policy


def suggested_action_for(*, stage: str, tier: str = "") -> str:
    """The stage strategy's next action for a tier (a tier-specific row wins over the general one)."""
    strategies = {(s.stage, s.tier): s.action for s in StageStrategy.objects.filter(stage=stage)}
    return strategies.get((stage, tier)) or strategies.get((stage, "")) or SuggestedAction.CARE_CALL


# --- Stages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageRunResult:
    run_id: int
    policy_version: int
    customers_staged: int
    customers_moved: int
    seconds: float


def stage_select_sql() -> str:
    """Every customer's stage, rule and figures as of %(as_of)s (see the module docstring)."""
    customer, txn = Customer._meta.db_table, Transaction._meta.db_table
    holding, product = Holding._meta.db_table, Product._meta.db_table
    assets = ", ".join(f"'{category}'" for category in feature_sql.ASSET_CATEGORIES)
    return f"""
    SELECT s.*, (CASE
        WHEN s.closed THEN '{Stage.CHURNED}'
        WHEN s.inactive THEN '{Stage.CHURNED}'
        WHEN s.is_new THEN '{Stage.NEW}'
        WHEN s.falling OR s.outflowing THEN '{Stage.DECLINE}'
        WHEN s.rising OR s.inflowing THEN '{Stage.GROWTH}'
        ELSE '{Stage.MATURE}' END) AS stage,
      (CASE
        WHEN s.closed THEN '{StageRule.CLOSED}'
        WHEN s.inactive THEN '{StageRule.INACTIVE}'
        WHEN s.is_new THEN '{StageRule.NEW}'
        WHEN s.falling THEN '{StageRule.ACTIVITY_FALLING}'
        WHEN s.outflowing THEN '{StageRule.ASSETS_FALLING}'
        WHEN s.rising THEN '{StageRule.ACTIVITY_RISING}'
        WHEN s.inflowing THEN '{StageRule.ASSETS_RISING}'
        ELSE '{StageRule.STABLE}' END) AS rule
    FROM (
      SELECT f.*,
        f.closed_on IS NOT NULL AND f.closed_on <= %(as_of)s::date AS closed,
        (f.last_at IS NULL OR f.last_at < %(as_of_at)s - make_interval(days => %(inactive_days)s))
            AND (f.customer_since IS NULL OR f.customer_since <= %(as_of)s::date - %(inactive_days)s) AS inactive,
        f.customer_since > (%(as_of)s::date - make_interval(months => %(new_months)s))::date AS is_new,
        f.q_prev > 0 AND f.q_last < f.q_prev * (1 - %(decline_pct)s / 100.0) AS falling,
        f.assets > 0 AND -f.net_flow > f.assets * %(decline_pct)s / 100.0 AS outflowing,
        (f.q_prev > 0 AND f.q_last > f.q_prev * (1 + %(growth_pct)s / 100.0))
            OR (f.q_prev = 0 AND f.q_last > 0) AS rising,
        f.assets > 0 AND f.net_flow > f.assets * %(growth_pct)s / 100.0 AS inflowing
      FROM (
        SELECT c.id AS customer_id, c.branch_id, c.closed_on, c.customer_since,
               (SELECT max(t.occurred_at) FROM {txn} t
                WHERE t.customer_id = c.id AND t.occurred_at < %(as_of_at)s) AS last_at,
               coalesce(x.q_last, 0) AS q_last, coalesce(x.q_prev, 0) AS q_prev,
               coalesce(x.net_flow, 0) AS net_flow, coalesce(h.assets, 0) AS assets
        FROM {customer} c
        LEFT JOIN (
            SELECT t.customer_id,
                   sum(t.amount) FILTER (WHERE t.occurred_at >= %(as_of_at)s - make_interval(days => %(q)s)) AS q_last,
                   sum(t.amount) FILTER (WHERE t.occurred_at < %(as_of_at)s - make_interval(days => %(q)s))
                       AS q_prev,
                   sum(CASE WHEN t.direction = 'in' THEN t.amount ELSE -t.amount END) AS net_flow
            FROM {txn} t
            WHERE t.occurred_at < %(as_of_at)s AND t.occurred_at >= %(as_of_at)s - make_interval(days => 2 * %(q)s)
            GROUP BY t.customer_id
        ) x ON x.customer_id = c.id
        LEFT JOIN (
            SELECT h.customer_id, sum(h.balance) AS assets
            FROM {holding} h JOIN {product} p ON p.id = h.product_id
            WHERE p.category IN ({assets}) AND h.opened_on <= %(as_of)s::date
              AND (h.closed_on IS NULL OR h.closed_on > %(as_of)s::date)
            GROUP BY h.customer_id
        ) h ON h.customer_id = c.id
        WHERE c.customer_since IS NULL OR c.customer_since <= %(as_of)s::date
      ) f
    ) s
    """  # noqa: S608


FIGURES_SQL = """jsonb_build_object(
    'last_transaction_days', CASE WHEN n.last_at IS NULL THEN NULL
                                  ELSE floor(extract(epoch FROM (%(as_of_at)s - n.last_at)) / 86400)::int END,
    'tenure_months', CASE WHEN n.customer_since IS NULL THEN NULL
                          ELSE (extract(year FROM age(%(as_of)s::date, n.customer_since)) * 12
                                + extract(month FROM age(%(as_of)s::date, n.customer_since)))::int END,
    'quarter_amount_cny', round(n.q_last)::bigint, 'previous_quarter_amount_cny', round(n.q_prev)::bigint,
    'change_pct', CASE WHEN n.q_prev > 0 THEN round(100 * (n.q_last - n.q_prev) / n.q_prev, 1) END,
    'net_flow_cny', round(n.net_flow)::bigint, 'assets_cny', round(n.assets)::bigint,
    'closed_on', n.closed_on)"""


def stage_run(*, as_of: date | None = None) -> StageRunResult:
    """Stage every customer as of ``as_of`` (default today) in one set-based pass; see the docstring."""
    started = time.monotonic()
    as_of = as_of or timezone.localdate()
    policy = lifecycle_policy_latest()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [STAGE_LOCK_KEY])
            if not cursor.fetchone()[0]:
                raise ApplicationError(ErrorCode.CONFLICT, _("A stage run is already in progress."))
        run = StageRun.objects.create(policy=policy, as_of=as_of)
        params = {
            "as_of": as_of, "as_of_at": feature_sql.cutoff_moment(as_of),
            "inactive_days": policy.churn_inactive_days, "new_months": policy.new_customer_months,
            "q": policy.quarter_days, "growth_pct": float(policy.growth_min_pct),
            "decline_pct": float(policy.decline_min_pct), "run_id": run.pk, "policy_id": policy.pk,
        }
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS lc_stage_new")
            cursor.execute(f"CREATE TEMPORARY TABLE lc_stage_new ON COMMIT DROP AS {stage_select_sql()}", params)
            cursor.execute("SELECT count(*) FROM lc_stage_new")
            staged = cursor.fetchone()[0]
            cursor.execute(
                f"""
                INSERT INTO {StageTransition._meta.db_table}
                    (customer_id, branch_id, run_id, policy_id, changed_on, from_stage, to_stage, rule, figures)
                SELECT n.customer_id, n.branch_id, %(run_id)s, %(policy_id)s, %(as_of)s, coalesce(c.stage, ''),
                       n.stage, n.rule, {FIGURES_SQL}
                FROM lc_stage_new n
                LEFT JOIN {CustomerStage._meta.db_table} c ON c.customer_id = n.customer_id
                WHERE c.stage IS DISTINCT FROM n.stage
                """,  # noqa: S608
                params,
            )
            moved = cursor.rowcount
            table = CustomerStage._meta.db_table
            cursor.execute(
                f"""
                INSERT INTO {table} AS cs
                    (customer_id, branch_id, stage, rule, figures, since, policy_id, run_id, as_of)
                SELECT n.customer_id, n.branch_id, n.stage, n.rule, {FIGURES_SQL}, %(as_of)s, %(policy_id)s,
                       %(run_id)s, %(as_of)s
                FROM lc_stage_new n
                ON CONFLICT (customer_id) DO UPDATE SET
                    since = CASE WHEN cs.stage = EXCLUDED.stage THEN cs.since ELSE EXCLUDED.since END,
                    branch_id = EXCLUDED.branch_id, stage = EXCLUDED.stage, rule = EXCLUDED.rule,
                    figures = EXCLUDED.figures, policy_id = EXCLUDED.policy_id, run_id = EXCLUDED.run_id,
                    as_of = EXCLUDED.as_of
                """,  # noqa: S608
                params,
            )
        run.status = RunStatus.DONE
        run.customers_staged = staged
        run.customers_moved = moved
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "customers_staged", "customers_moved", "finished_at"])
    seconds = time.monotonic() - started
    logger.info("stage run %s: staged=%d moved=%d policy=v%d %.1fs", run.pk, staged, moved, policy.version, seconds)
    return StageRunResult(run_id=run.pk, policy_version=policy.version, customers_staged=staged,
                          customers_moved=moved, seconds=seconds)


# --- Training -------------------------------------------------------------------------------------


def model_path(model: ChurnModel) -> Path:
    return Path(settings.MODEL_DIR) / model.file_name


_LOADED: dict[int, tuple[str, object]] = {}


def churn_model_load(*, model: ChurnModel):
    """Return the fitted model of a version, read from its file once per process and checksum-checked."""
    cached = _LOADED.get(model.pk)
    if cached is not None and cached[0] == model.sha256:
        return cached[1]
    path = model_path(model)
    if not path.exists():
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("The model file is missing."))
    if modelling.file_sha256(path) != model.sha256:
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("The model file does not match its recorded checksum."))
    fitted = joblib.load(path)
    _LOADED[model.pk] = (model.sha256, fitted)
    return fitted


def churn_model_active() -> ChurnModel | None:
    return ChurnModel.objects.filter(status=ModelStatus.ACTIVE).first()


@dataclass
class TrainingOutcome:
    model: ChurnModel
    activated: bool
    active_auc_on_same_data: float | None
    table: list[tuple[str, dict]]


def churn_model_train(*, as_of: date | None = None, horizon_days: int = DEFAULT_HORIZON_DAYS,
                      by: User | None = None, algorithm: str = modelling.HGB) -> TrainingOutcome:
    """Train a churn model version as of ``as_of`` (the validation cutoff; default today - horizon).

    Time-respecting validation when history allows: train on the cutoff ``as_of - horizon``
    (labels up to ``as_of``), validate on ``as_of`` (labels up to ``as_of + horizon``, which must
    not be in the future). Otherwise stratified 5-fold on the ``as_of`` population, then a final
    fit on all of it. HistGradientBoosting (deployed), RandomForest and logistic regression are
    compared on the same split. The models fit on a random sample (fixed seed, stratified by the
    label) of at most ``settings.CHURN_TRAINING_MAX_CUSTOMERS`` training customers; temporal
    validation scores every customer of the later cutoff, k-fold validation runs on the sample.
    The new version becomes active only if it beats the active one on the same validation data
    (or there is none).
    """
    if by is not None and not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if algorithm not in modelling.ALGORITHMS:
        raise ApplicationError.invalid(_("Unknown algorithm."), field="algorithm")
    started = time.monotonic()
    today = timezone.localdate()
    horizon_days = int(horizon_days)
    if horizon_days < 30 or horizon_days > 730:
        raise ApplicationError.invalid(_("The horizon must be between 30 and 730 days."), field="horizon_days")
    as_of = as_of or today - timedelta(days=horizon_days)
    if as_of + timedelta(days=horizon_days) > today:
        raise ApplicationError.invalid(
            _("The cutoff plus the horizon must not be after today: the outcome is not known yet."), field="as_of"
        )
    policy = lifecycle_policy_latest()
    days = policy.churn_inactive_days
    validation = feature_sql.feature_matrix(cutoff=as_of, inactive_days=days, horizon_days=horizon_days)
    train_cutoff = as_of - timedelta(days=horizon_days)
    train = feature_sql.feature_matrix(cutoff=train_cutoff, inactive_days=days, horizon_days=horizon_days)
    temporal = (len(train) >= MIN_TEMPORAL_CUSTOMERS and int(train.y.sum()) >= MIN_TEMPORAL_POSITIVES
                and len(validation) >= MIN_TEMPORAL_CUSTOMERS and int(validation.y.sum()) >= MIN_TEMPORAL_POSITIVES)
    if not temporal:
        train, train_cutoff = validation, as_of
    positives = int(train.y.sum()) if len(train) else 0
    if positives < MIN_TRAINING_POSITIVES or positives == len(train):
        raise ApplicationError.invalid(
            _("Too little history to train: fewer than %(n)d churned customers in the population.")
            % {"n": MIN_TRAINING_POSITIVES}, field="as_of",
        )
    population = len(train)
    train = train.sampled(max(settings.CHURN_TRAINING_MAX_CUSTOMERS, MIN_TEMPORAL_CUSTOMERS))
    positives = int(train.y.sum())

    comparison: dict[str, dict] = {}
    deployed = None
    deployed_p = None
    for name in modelling.ALGORITHMS:
        if temporal:
            fitted = modelling.fit_calibrated(name, train.X, train.y)
            p = modelling.probabilities(fitted, validation.X)
            y_valid = validation.y
        else:
            p = modelling.kfold_predictions(name, train.X, train.y)
            y_valid = train.y
            fitted = modelling.fit_calibrated(name, train.X, train.y) if name == algorithm else None
        comparison[name] = modelling.metrics(y_valid, p)
        if name == algorithm:
            deployed, deployed_p = fitted, p
    headline = comparison[algorithm]
    calibration = modelling.calibration_table(y_valid, deployed_p)

    top_features: list = []
    if algorithm == modelling.HGB:
        sample = validation.X[:5000] if len(validation) else train.X[:5000]
        _bias, contributions = modelling.path_contributions(modelling.base_estimator(deployed), sample)
        top_features = reasons.top_feature_groups(contributions)[:15]

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRAIN_LOCK_KEY])
        version = (ChurnModel.objects.order_by("-version").values_list("version", flat=True).first() or 0) + 1
        file_name = f"churn-v{version}-{timezone.now():%Y%m%d%H%M%S}.joblib"
        directory = Path(settings.MODEL_DIR)
        directory.mkdir(parents=True, exist_ok=True)
        joblib.dump(deployed, directory / file_name, compress=3)
        model = ChurnModel.objects.create(
            version=version, algorithm=algorithm, file_name=file_name,
            sha256=modelling.file_sha256(directory / file_name), policy=policy, train_cutoff=train_cutoff,
            validation_cutoff=as_of, horizon_days=horizon_days,
            validation_method=ValidationMethod.TEMPORAL if temporal else ValidationMethod.KFOLD,
            train_customers=len(train), train_positives=positives,
            validation_customers=len(y_valid), validation_positives=int(np.sum(y_valid)),
            metrics={**headline, "comparison": comparison, "calibration": calibration,
                     "train_population": population},
            features=list(feature_sql.FEATURES), top_features=top_features,
            library_versions=modelling.library_versions(), training_seconds=round(time.monotonic() - started, 2),
            trained_by=by,
        )
        active = churn_model_active()
        active_auc = None
        if active is not None:
            active_auc = _auc_of(active, validation if temporal else train)
        better = active is None or (headline["roc_auc"] is not None and active_auc is not None
                                    and headline["roc_auc"] > active_auc)
        if better:
            _activate(model=model, by=by, note=_("automatic: better on the same validation data")
                      if active else _("automatic: first model"))
        audit_record(actor=by, action=AUDIT_MODEL_TRAIN, target=model,
                     detail={"version": version, "roc_auc": headline["roc_auc"], "activated": better,
                             "active_auc_same_data": active_auc})
    return TrainingOutcome(model=model, activated=better, active_auc_on_same_data=active_auc,
                           table=list(comparison.items()))


def _auc_of(model: ChurnModel, data: feature_sql.FeatureMatrix) -> float | None:
    """The ROC AUC of a stored model on a feature matrix; None if it cannot score these features."""
    if list(model.features) != list(feature_sql.FEATURES):
        return None
    try:
        fitted = churn_model_load(model=model)
    except ApplicationError:
        return None
    return modelling.metrics(data.y, modelling.probabilities(fitted, data.X))["roc_auc"]


def _activate(*, model: ChurnModel, by: User | None, note: str) -> None:
    ChurnModel.objects.filter(status=ModelStatus.ACTIVE).exclude(pk=model.pk).update(status=ModelStatus.RETIRED)
    model.status = ModelStatus.ACTIVE
    model.activated_at = timezone.now()
    model.activated_by = by
    model.activation_note = note[:300]
    model.save(update_fields=["status", "activated_at", "activated_by", "activation_note"])


@transaction.atomic
def churn_model_activate(*, model_id: int, by: User, note: str = "") -> ChurnModel:
    """An administrator makes a model version the active one (audited), whatever its metrics."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    model = ChurnModel.objects.select_for_update().get(pk=model_id)
    if model.status == ModelStatus.ACTIVE:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This model is already active."))
    churn_model_load(model=model)  # refuse a version whose file is missing or altered
    previous = churn_model_active()
    _activate(model=model, by=by, note=note or _("activated by an administrator"))
    audit_record(actor=by, action=AUDIT_MODEL_ACTIVATE, target=model,
                 detail={"version": model.version, "previous": previous.version if previous else None,
                         "note": note[:300]})
    return model


# --- Scoring --------------------------------------------------------------------------------------


@transaction.atomic
def scoring_run_queue(*, as_of: date | None = None, by: User | None = None) -> ScoringRun:
    """Start scoring every open customer as of ``as_of`` (default today) with the active model."""
    if by is not None and not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    model = churn_model_active()
    if model is None:
        raise ApplicationError(ErrorCode.UNAVAILABLE, _("No churn model is active; train one first."))
    run = ScoringRun.objects.create(model=model, policy=lifecycle_policy_latest(),
                                    as_of=as_of or timezone.localdate(), requested_by=by)
    if by is not None:
        audit_record(actor=by, action=AUDIT_SCORING_REQUEST, target=run, detail={"as_of": run.as_of.isoformat()})
    outbox_enqueue(task_name=SCORING_PLAN_TASK, kwargs={"run_id": run.pk})
    return run


def scoring_run_plan(*, run_id: int) -> ScoringRun:
    """Fix the run's population in chunks and queue one task per chunk (idempotent: plans once)."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().get(pk=run_id)
        if run.chunks_total or run.status != RunStatus.RUNNING:
            return run
        customer_ids = feature_sql.population_ids(cutoff=run.as_of, inactive_days=run.policy.churn_inactive_days)
        chunks = [
            ScoringChunk(run=run, number=number, customer_ids=customer_ids[start:start + CHUNK_SIZE])
            for number, start in enumerate(range(0, len(customer_ids), CHUNK_SIZE), start=1)
        ]
        ScoringChunk.objects.bulk_create(chunks, batch_size=200)
        run.chunks_total = len(chunks)
        run.customers_total = len(customer_ids)
        if not chunks:
            run.status = RunStatus.DONE
            run.finished_at = timezone.now()
        run.save(update_fields=["chunks_total", "customers_total", "status", "finished_at"])
        for chunk in chunks:
            outbox_enqueue(task_name=SCORING_CHUNK_TASK, kwargs={"chunk_id": chunk.pk}, queue=SCORING_QUEUE)
    return run


SCORE_COLUMNS = ("run_id", "customer_id", "branch_id", "relationship_manager_id", "probability", "raw_score",
                 "reasons")


def scoring_chunk_score(*, chunk_id: int) -> int:
    """Score one chunk, exactly once: return how many customers this call scored (0 if done already).

    Marks the chunk running (committed, for the sweeper and the progress bar), then in one
    transaction holding the chunk's row lock: features in one statement, predict, explain, one
    INSERT of the scores (ON CONFLICT DO NOTHING), chunk done, run counters, and the run's end.
    """
    with transaction.atomic():
        claimed = (ScoringChunk.objects.select_for_update(skip_locked=True)
                   .filter(pk=chunk_id).exclude(status=ChunkStatus.DONE)
                   .update(status=ChunkStatus.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1))
    if not claimed:
        return 0
    with transaction.atomic():
        # of=("self",): lock the chunk only. Without it PostgreSQL locks the joined run row too, and
        # SKIP LOCKED then skipped every chunk whose run another worker was updating (its run counters,
        # held to its commit): with two workers most chunks were claimed, skipped and left running.
        chunk = (ScoringChunk.objects.select_for_update(skip_locked=True, of=("self",))
                 .select_related("run", "run__model", "run__policy")
                 .filter(pk=chunk_id).first())
        if chunk is None or chunk.status == ChunkStatus.DONE:
            return 0  # another worker holds it, or finished it meanwhile
        run = chunk.run
        fitted = churn_model_load(model=run.model)
        if list(run.model.features) != list(feature_sql.FEATURES):
            raise ApplicationError(ErrorCode.UNAVAILABLE, _("The model was trained on other features; retrain it."))
        data = feature_sql.feature_matrix(cutoff=run.as_of, inactive_days=run.policy.churn_inactive_days,
                                          customer_ids=list(chunk.customer_ids))
        inserted = 0
        if len(data):
            p = modelling.probabilities(fitted, data.X)
            estimator = modelling.base_estimator(fitted)
            if run.model.algorithm == modelling.HGB:
                bias, contributions = modelling.path_contributions(estimator, data.X)
                raw = bias + contributions.sum(axis=1)
                explained = reasons.reasons_for(data.X, contributions)
            else:
                raw = np.log(p / np.clip(1 - p, 1e-12, None))
                explained = [[] for _row in range(len(data))]
            rows = [
                (run.pk, int(data.customer_ids[i]), int(data.branch_ids[i]), data.relationship_manager_ids[i],
                 float(p[i]), float(raw[i]), Json(explained[i]))
                for i in range(len(data))
            ]
            with connection.cursor() as cursor:
                execute_values(
                    cursor,
                    f"INSERT INTO {ChurnScore._meta.db_table} ({', '.join(SCORE_COLUMNS)}) VALUES %s "  # noqa: S608
                    "ON CONFLICT (run_id, customer_id) DO NOTHING",
                    rows, page_size=len(rows),
                )
                inserted = cursor.rowcount
        high = float(run.policy.high_risk_probability_pct) / 100
        high_count = int(np.sum(p >= high)) if len(data) else 0
        ScoringChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.DONE, finished_at=timezone.now(),
                                                        scored=inserted)
        ScoringRun.objects.filter(pk=run.pk).update(chunks_done=F("chunks_done") + 1,
                                                    customers_scored=F("customers_scored") + inserted,
                                                    high_risk=F("high_risk") + high_count)
        run.refresh_from_db(fields=["chunks_done", "chunks_total", "status"])
        if run.chunks_done == run.chunks_total and run.status == RunStatus.RUNNING:
            ScoringRun.objects.filter(pk=run.pk).update(status=RunStatus.DONE, finished_at=timezone.now())
            outbox_enqueue(task_name=RETENTION_TASKS_TASK, kwargs={"run_id": run.pk})
    return inserted


def scoring_chunks_sweep(*, stale_after_seconds: int = SWEEP_AFTER_SECONDS) -> int:
    """Re-queue chunks queued or running for longer than ``stale_after_seconds`` (a lost worker); return how many."""
    stale_before = timezone.now() - timedelta(seconds=stale_after_seconds)
    with transaction.atomic():
        chunks = list(
            ScoringChunk.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(run__status=RunStatus.RUNNING)
            .filter(Q(status=ChunkStatus.QUEUED, queued_at__lt=stale_before)
                    | Q(status=ChunkStatus.RUNNING, started_at__lt=stale_before))
        )
        requeued = 0
        for chunk in chunks:
            chunk.status = ChunkStatus.QUEUED
            chunk.queued_at = timezone.now()
            chunk.save(update_fields=["status", "queued_at"])
            outbox_enqueue(task_name=SCORING_CHUNK_TASK, kwargs={"chunk_id": chunk.pk}, queue=SCORING_QUEUE)
            requeued += 1
    if requeued:
        logger.warning("scoring sweeper re-queued %d chunks", requeued)
    return requeued


# --- Retention ------------------------------------------------------------------------------------


def retention_tasks_create(*, run_id: int) -> int:
    """Open a retention task for each high-risk customer of a finished run who has none open."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update(of=("self",)).select_related("policy").get(pk=run_id)
        if run.status != RunStatus.DONE or run.tasks_created:
            return 0
        # A run adds a score per open customer at once: give the planner their statistics now, not
        # when autovacuum gets round to it, or the high-risk counts of every dashboard scan the whole
        # run instead of using the (run, probability) index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ChurnScore._meta.db_table}")
        threshold = float(run.policy.high_risk_probability_pct) / 100
        due_on = run.as_of + timedelta(days=run.policy.retention_due_days)
        strategies = {(s.stage, s.tier): s.action for s in StageStrategy.objects.all()}
        scores = list(
            ChurnScore.objects.filter(run=run, probability__gte=threshold)
            .exclude(customer__retention_tasks__status=RetentionStatus.OPEN)
            .values("id", "customer_id", "relationship_manager_id", "probability", "reasons")
        )
        customer_ids = [s["customer_id"] for s in scores]
        stages = dict(CustomerStage.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "stage"))
        tiers = dict(CustomerSegment.objects.filter(customer_id__in=customer_ids).values_list("customer_id", "tier"))
        tasks = []
        for score in scores:
            stage = stages.get(score["customer_id"], "")
            if stage == Stage.CHURNED:
                continue  # already gone: the win-back list, not retention
            tier = tiers.get(score["customer_id"], "")
            action = (strategies.get((stage, tier)) or strategies.get((stage, ""))
                      or SuggestedAction.CARE_CALL)
            tasks.append(RetentionTask(
                customer_id=score["customer_id"], assigned_to_id=score["relationship_manager_id"],
                score_id=score["id"], run=run, probability=score["probability"], reasons=score["reasons"],
                stage=stage, suggested_action=action, due_on=due_on,
            ))
        created = RetentionTask.objects.bulk_create(tasks, batch_size=1000, ignore_conflicts=True)
        run.tasks_created = len(created)
        run.save(update_fields=["tasks_created"])
        per_rm: dict[int, int] = {}
        for task in tasks:
            if task.assigned_to_id:
                per_rm[task.assigned_to_id] = per_rm.get(task.assigned_to_id, 0) + 1
        transaction.on_commit(lambda: _retention_notify(run_id=run.pk, per_rm=per_rm))
    return len(tasks)


def _retention_notify(*, run_id: int, per_rm: dict[int, int]) -> None:
    """Tell each RM how many new retention tasks they have (one message per RM and run)."""
    notify = _notification_sender()
    if notify is None:
        return
    from django.urls import reverse

    for user in User.objects.filter(pk__in=list(per_rm)):
        notify(recipient=user, kind="lifecycle.retention_task", params={"count": per_rm[user.pk]},
               url=reverse("lifecycle:at-risk"), dedupe_key=f"lifecycle.retention:{run_id}:{user.pk}")


def _notification_sender():
    try:
        from core import notifications
    except ImportError:  # the inbox lands with the lead's registries
        return None
    return notifications.notification_send


@transaction.atomic
def retention_task_record(*, task_id: int, by, action_taken: str, outcome: str) -> RetentionTask:
    """The RM (or a bank system with retention:write) records the action and outcome; the task is done.

    The caller fetched the task through a scoped selector.
    """
    is_key = not scope.is_staff_principal(by)
    allowed = scope.api_key_has_scope(by, "retention:write") if is_key else lifecycle_permissions.can_work_retention(by)
    if not allowed:
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if outcome not in RetentionOutcome.values:
        raise ApplicationError.invalid(_("Choose an outcome."), field="outcome")
    action_taken = (action_taken or "").strip()
    if not action_taken:
        raise ApplicationError.invalid(_("Describe the action taken."), field="action_taken")
    task = RetentionTask.objects.select_for_update().get(pk=task_id)
    if RetentionStatus.DONE not in RetentionTask.TRANSITIONS.get(task.status, set()):
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    task.status = RetentionStatus.DONE
    task.action_taken = action_taken[:500]
    task.outcome = outcome
    task.recorded_by = None if is_key else by
    task.recorded_at = timezone.now()
    task.save(update_fields=["status", "action_taken", "outcome", "recorded_by", "recorded_at"])
    audit_record(actor=by, action=AUDIT_RETENTION_RECORD, target=task,
                 detail={"customer_id": task.customer_id, "outcome": outcome})
    return task


def retention_outcomes_match(*, as_of: date | None = None) -> int:
    """Match later churn to tasks: the customer closed, or went inactive, after the task was created."""
    as_of = as_of or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {RetentionTask._meta.db_table} t
            SET churned_on = coalesce(c.closed_on, s.since)
            FROM {Customer._meta.db_table} c
            LEFT JOIN {CustomerStage._meta.db_table} s ON s.customer_id = c.id AND s.stage = %(churned)s
            WHERE t.customer_id = c.id AND t.churned_on IS NULL
              AND coalesce(c.closed_on, s.since) >= t.created_at::date
              AND coalesce(c.closed_on, s.since) <= %(as_of)s
            """,  # noqa: S608
            {"as_of": as_of, "churned": Stage.CHURNED},
        )
        return cursor.rowcount


def lifecycle_nightly(*, as_of: date | None = None) -> None:
    """Beat, nightly after the classification pass: stages, outcome matching, then a scoring run."""
    stage_run(as_of=as_of)
    retention_outcomes_match(as_of=as_of)
    if churn_model_active() is not None:
        scoring_run_queue(as_of=as_of)


def lifecycle_monthly_retrain() -> TrainingOutcome:
    """Beat, monthly: train a new version on the latest full horizon; it activates only if better."""
    return churn_model_train(horizon_days=DEFAULT_HORIZON_DAYS)
