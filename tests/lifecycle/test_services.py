"""Stages, training, chunked scoring (exactly once), the sweeper and retention work."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import psycopg2
import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Role
from core.errors import ApplicationError
from core.models import AuditEvent
from lifecycle import selectors, services
from lifecycle.models import (
    ChunkStatus,
    ChurnModel,
    ChurnScore,
    CustomerStage,
    ModelStatus,
    RetentionOutcome,
    RetentionStatus,
    RetentionTask,
    RunStatus,
    ScoringChunk,
    ScoringRun,
    Stage,
    StageRule,
    StageTransition,
    ValidationMethod,
)
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.lifecycle.factories import at, build_book

TODAY = date(2026, 12, 4)


def test_stage_rules_and_transition_history(branch):
    """New, growth, decline, mature and churned customers get their stage with the rule and figures;
    a second pass after a change writes one transition with the figures behind it."""
    new = CustomerFactory(branch=branch, customer_since=TODAY - timedelta(days=100))
    closed = CustomerFactory(branch=branch, status="closed", closed_on=TODAY - timedelta(days=3))
    silent = CustomerFactory(branch=branch, customer_since=date(2018, 1, 1))
    TransactionFactory(customer=silent, occurred_at=at(TODAY - timedelta(days=300)))
    growing = CustomerFactory(branch=branch, customer_since=date(2018, 1, 1))
    TransactionFactory(customer=growing, occurred_at=at(TODAY - timedelta(days=150)), amount=1000)
    TransactionFactory(customer=growing, occurred_at=at(TODAY - timedelta(days=20)), amount=5000)
    falling = CustomerFactory(branch=branch, customer_since=date(2018, 1, 1))
    TransactionFactory(customer=falling, occurred_at=at(TODAY - timedelta(days=150)), amount=5000)
    TransactionFactory(customer=falling, occurred_at=at(TODAY - timedelta(days=20)), amount=1000)
    stable = CustomerFactory(branch=branch, customer_since=date(2018, 1, 1))
    TransactionFactory(customer=stable, occurred_at=at(TODAY - timedelta(days=150)), amount=1000)
    TransactionFactory(customer=stable, occurred_at=at(TODAY - timedelta(days=20)), amount=1000)

    result = services.stage_run(as_of=TODAY)

    stages = {s.customer_id: (s.stage, s.rule) for s in CustomerStage.objects.all()}
    assert stages == {
        new.pk: (Stage.NEW, StageRule.NEW), closed.pk: (Stage.CHURNED, StageRule.CLOSED),
        silent.pk: (Stage.CHURNED, StageRule.INACTIVE), growing.pk: (Stage.GROWTH, StageRule.ACTIVITY_RISING),
        falling.pk: (Stage.DECLINE, StageRule.ACTIVITY_FALLING), stable.pk: (Stage.MATURE, StageRule.STABLE),
    }
    assert result.customers_moved == 6
    falling_stage = CustomerStage.objects.get(customer=falling)
    assert falling_stage.figures["quarter_amount_cny"] == 1000
    assert falling_stage.figures["previous_quarter_amount_cny"] == 5000

    # When the falling customer recovers, the next pass moves them once, with the figures.
    TransactionFactory(customer=falling, occurred_at=at(TODAY), amount=9000)
    services.stage_run(as_of=TODAY + timedelta(days=1))
    move = StageTransition.objects.filter(customer=falling).order_by("-id").first()
    assert (move.from_stage, move.to_stage, move.rule) == (Stage.DECLINE, Stage.GROWTH, StageRule.ACTIVITY_RISING)
    assert move.figures["quarter_amount_cny"] == 10000
    assert StageTransition.objects.filter(customer=stable).count() == 1
    assert CustomerStage.objects.get(customer=stable).since == TODAY


@pytest.fixture
def book(branch, make_user, time_machine):
    time_machine.move_to(timezone.make_aware(datetime(2026, 12, 4, 9, 0)), tick=False)
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_book")
    return rm, build_book(customers=900, branch=branch, today=TODAY, relationship_manager=rm)


def _score_everything(run_id: int) -> None:
    services.scoring_run_plan(run_id=run_id)
    for chunk_id in ScoringChunk.objects.filter(run_id=run_id).values_list("pk", flat=True):
        services.scoring_chunk_score(chunk_id=chunk_id)


def test_train_compare_score_and_retention(book, django_capture_on_commit_callbacks):
    """Training validates on a later cutoff, compares three algorithms, stores a checksummed file
    and activates the first model; scoring writes one score per customer with reasons; a second
    delivery of a chunk scores nobody twice; high-risk customers get one open task each."""
    rm, _customers = book
    outcome = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    model = outcome.model
    assert model.validation_method == ValidationMethod.TEMPORAL
    assert model.validation_cutoff == TODAY - timedelta(days=180) and model.train_cutoff == TODAY - timedelta(days=360)
    assert set(model.metrics["comparison"]) == {"hist_gradient_boosting", "random_forest", "logistic_regression"}
    assert model.metrics["roc_auc"] > 0.7
    for key in ("pr_auc", "brier", "top_decile_lift", "top_decile_precision"):
        assert model.metrics[key] is not None
    assert model.status == ModelStatus.ACTIVE and len(model.sha256) == 64
    assert model.library_versions["scikit-learn"]

    run = services.scoring_run_queue(as_of=TODAY)
    _score_everything(run.pk)
    run.refresh_from_db()
    assert run.status == RunStatus.DONE and run.chunks_done == run.chunks_total
    assert ChurnScore.objects.filter(run=run).count() == run.customers_total == run.customers_scored > 0
    chunk = ScoringChunk.objects.filter(run=run).first()
    assert services.scoring_chunk_score(chunk_id=chunk.pk) == 0  # a redelivery does nothing
    assert ChurnScore.objects.filter(run=run).count() == run.customers_total
    top = ChurnScore.objects.filter(run=run).order_by("-probability").first()
    assert top.reasons and selectors.reasons_text(top.reasons)[0]

    with django_capture_on_commit_callbacks(execute=True):
        created = services.retention_tasks_create(run_id=run.pk)
    assert created == RetentionTask.objects.filter(status=RetentionStatus.OPEN).count() == run.high_risk > 0
    assert services.retention_tasks_create(run_id=run.pk) == 0
    # A second run does not open a second task for the same customer.
    run2 = services.scoring_run_queue(as_of=TODAY)
    _score_everything(run2.pk)
    services.retention_tasks_create(run_id=run2.pk)
    assert RetentionTask.objects.filter(status=RetentionStatus.OPEN).count() == created

    task = RetentionTask.objects.filter(assigned_to=rm).first()
    services.retention_task_record(task_id=task.pk, by=rm, action_taken="visited, offered a rate", outcome="retained")
    task.refresh_from_db()
    assert (task.status, task.outcome, task.recorded_by) == (RetentionStatus.DONE, RetentionOutcome.RETAINED, rm)
    with pytest.raises(ApplicationError):
        services.retention_task_record(task_id=task.pk, by=rm, action_taken="again", outcome="lost")

    # A later closure is matched to its task; the effect figures count it.
    other = RetentionTask.objects.filter(status=RetentionStatus.OPEN).first()
    other.customer.status, other.customer.closed_on = "closed", TODAY + timedelta(days=5)
    other.customer.save(update_fields=["status", "closed_on"])
    assert services.retention_outcomes_match(as_of=TODAY + timedelta(days=6)) == 1
    effect = selectors.retention_effect(principal=rm)
    assert effect["churned"] == 1 and effect["worked"] == 1 and effect["retained_rate_worked"] == 1.0


def test_new_model_is_activated_only_if_better_or_by_an_admin(book, make_user):
    services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    second = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    # The same data and seed give the same AUC: not better, so not activated.
    assert not second.activated and second.model.status == ModelStatus.CANDIDATE
    admin = make_user(Role.ADMIN, username="admin_act")
    services.churn_model_activate(model_id=second.model.pk, by=admin, note="checked by hand")
    assert ChurnModel.objects.get(status=ModelStatus.ACTIVE).pk == second.model.pk
    assert AuditEvent.objects.filter(action=services.AUDIT_MODEL_ACTIVATE).exists()
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_act")
    with pytest.raises(ApplicationError):
        services.churn_model_activate(model_id=second.model.pk, by=rm)


def test_a_model_file_that_does_not_match_its_checksum_is_refused(book):
    model = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180).model
    services._LOADED.clear()
    with open(services.model_path(model), "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ApplicationError, match="checksum"):
        services.churn_model_load(model=model)


def test_sweeper_requeues_chunks_a_lost_worker_left(book):
    services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    run = services.scoring_run_queue(as_of=TODAY)
    services.scoring_run_plan(run_id=run.pk)
    chunk = ScoringChunk.objects.filter(run=run).first()
    # A worker marked it running, then died before committing its scores.
    ScoringChunk.objects.filter(pk=chunk.pk).update(status=ChunkStatus.RUNNING,
                                                    started_at=timezone.now() - timedelta(hours=1))
    assert services.scoring_chunks_sweep(stale_after_seconds=600) >= 1
    chunk.refresh_from_db()
    assert chunk.status == ChunkStatus.QUEUED
    for chunk_id in ScoringChunk.objects.filter(run=run).values_list("pk", flat=True):
        services.scoring_chunk_score(chunk_id=chunk_id)
    run.refresh_from_db()
    assert run.status == RunStatus.DONE
    assert ChurnScore.objects.filter(run=run).count() == run.customers_total


def test_training_fits_on_a_capped_stratified_sample_and_validates_on_everyone(book, settings):
    """Above CHURN_TRAINING_MAX_CUSTOMERS the models fit on a random sample of that size, churned and
    retained customers in their shares (the same sample on a re-run); temporal validation still scores
    the whole later population."""
    settings.CHURN_TRAINING_MAX_CUSTOMERS = 300
    capped = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180).model
    population = capped.metrics["train_population"]
    assert capped.train_customers == 300 < population

    again = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180).model
    assert again.train_positives == capped.train_positives and again.metrics["roc_auc"] == capped.metrics["roc_auc"]
    settings.CHURN_TRAINING_MAX_CUSTOMERS = 10**6
    full = services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180).model
    assert full.train_customers == full.metrics["train_population"] == population
    assert full.validation_customers == capped.validation_customers
    # stratified: the sample's churned share is the population's, to the nearest customer
    assert capped.train_positives == round(300 * full.train_positives / population)


def test_training_without_enough_history_is_refused(branch):
    CustomerFactory(branch=branch)
    with pytest.raises(ApplicationError):
        services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    with pytest.raises(ApplicationError):
        services.churn_model_train(as_of=TODAY, horizon_days=180)  # the outcome is not known yet


@pytest.mark.django_db(transaction=True)
def test_a_chunk_waits_for_another_workers_run_update_instead_of_skipping_itself(book):
    """Found by the benchmark with two workers: while one worker held its run's row (the run's counters,
    updated at the end of its chunk, locked until its commit), the other's chunk query, which joins the
    run, skipped the chunk as if another worker held it, and left it running until the sweeper. Here a
    second connection holds the run's row the same way: the chunk must wait and then score, not skip."""
    services.churn_model_train(as_of=TODAY - timedelta(days=180), horizon_days=180)
    run = services.scoring_run_queue(as_of=TODAY)
    services.scoring_run_plan(run_id=run.pk)
    chunk = ScoringChunk.objects.filter(run=run).first()
    settings_dict = connection.settings_dict
    other = psycopg2.connect(dbname=settings_dict["NAME"], user=settings_dict["USER"], host=settings_dict["HOST"],
                             port=settings_dict["PORT"])
    outcome: dict[str, int] = {}

    def score() -> None:
        try:
            outcome["scored"] = services.scoring_chunk_score(chunk_id=chunk.pk)
        finally:
            connection.close()

    try:
        with other.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {ScoringRun._meta.db_table} WHERE id = %s FOR UPDATE", [run.pk])
        worker = threading.Thread(target=score)
        worker.start()
        worker.join(timeout=3)
        assert worker.is_alive(), f"the chunk did not wait for the run's row (returned {outcome})"
        other.commit()
        worker.join(timeout=60)
    finally:
        other.close()
    chunk.refresh_from_db()
    assert outcome["scored"] == len(chunk.customer_ids) > 0
    assert chunk.status == ChunkStatus.DONE
    assert ChurnScore.objects.filter(run=run).count() == len(chunk.customer_ids)
