"""Lifecycle stages, churn models and scores, and retention work (MANUAL 3.4, Ch. 4).

Each customer has one current ``CustomerStage`` (the rule and figures behind it and the policy
version); ``StageTransition`` gets a row whenever the stage changes. ``LifecyclePolicy`` holds
the numbers (stage thresholds, the churn definition, the high-risk threshold), versioned like
the segmentation policy. ``ChurnModel`` is one trained model version: a file under MODEL_DIR
with its checksum, metrics and features. A ``ScoringRun`` scores every open customer in
``ScoringChunk``s on the Celery ``scoring`` queue, writing ``ChurnScore`` rows (one per customer
and run). High-risk customers become ``RetentionTask``s for their RM.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

PCT = {"max_digits": 6, "decimal_places": 2,
       "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]}


class Stage(models.TextChoices):
    NEW = "new", pgettext_lazy("lifecycle stage", "new")
    GROWTH = "growth", pgettext_lazy("lifecycle stage", "growth")
    MATURE = "mature", pgettext_lazy("lifecycle stage", "mature")
    DECLINE = "decline", pgettext_lazy("lifecycle stage", "decline")
    CHURNED = "churned", pgettext_lazy("lifecycle stage", "churned")


STAGE_ORDER = (Stage.NEW, Stage.GROWTH, Stage.MATURE, Stage.DECLINE, Stage.CHURNED)


class StageRule(models.TextChoices):
    """Which rule put the customer in the stage (lifecycle/services.py documents each)."""

    CLOSED = "closed", _("relationship closed")
    INACTIVE = "inactive", _("no transaction for longer than the churn period")
    NEW = "new_customer", _("customer for less than the new-customer period")
    ACTIVITY_FALLING = "activity_falling", _("transaction amount fell by more than the decline share")
    ASSETS_FALLING = "assets_falling", _("net outflow above the decline share of assets")
    ACTIVITY_RISING = "activity_rising", _("transaction amount rose by more than the growth share")
    ASSETS_RISING = "assets_rising", _("net inflow above the growth share of assets")
    STABLE = "stable", _("activity and assets stable")


class LifecyclePolicy(models.Model):
    """The numbers of the stage rules, the churn definition and retention work; each change is a new version."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    new_customer_months = models.PositiveIntegerField(_("new: customer for less than (months)"), default=12,
                                                      validators=[MinValueValidator(1), MaxValueValidator(60)])
    quarter_days = models.PositiveIntegerField(_("length of a quarter (days)"), default=91,
                                               validators=[MinValueValidator(28), MaxValueValidator(183)])
    growth_min_pct = models.DecimalField(_("growth: rise of more than (%)"), **PCT, default=Decimal("20"))
    decline_min_pct = models.DecimalField(_("decline: fall of more than (%)"), **PCT, default=Decimal("30"))
    churn_inactive_days = models.PositiveIntegerField(_("churned: no transaction for (days)"), default=180,
                                                      validators=[MinValueValidator(30), MaxValueValidator(730)])
    high_risk_probability_pct = models.DecimalField(_("high risk: churn probability of at least (%)"), **PCT,
                                                    default=Decimal("50"))
    retention_due_days = models.PositiveIntegerField(_("retention task due within (days)"), default=14,
                                                     validators=[MinValueValidator(1), MaxValueValidator(90)])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("lifecycle policy")
        verbose_name_plural = _("lifecycle policies")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class SuggestedAction(models.TextChoices):
    INTRODUCE_PRODUCTS = "introduce_products", _("introduce products that suit the customer")
    DEEPEN_RELATIONSHIP = "deepen_relationship", _("offer the next product and a financial review")
    CUSTOMISED_SERVICE = "customised_service", _("customised service and a regular review")
    CARE_CALL = "care_call", _("care call: ask what has changed and address it")
    PRIORITY_VISIT = "priority_visit", _("priority visit by the RM with a retention offer")
    WIN_BACK = "win_back", _("win-back contact with a tailored offer")


class StageStrategy(models.Model):
    """What a stage (optionally for one tier) calls for (MANUAL 3.4): the strategy and the next action."""

    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    tier = models.CharField(_("tier"), max_length=10, blank=True, help_text=_("blank: every tier"))
    action = models.CharField(_("next suggested action"), max_length=24, choices=SuggestedAction.choices)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stage strategy")
        verbose_name_plural = _("stage strategies")
        ordering = ["stage", "tier"]
        constraints = [models.UniqueConstraint(fields=["stage", "tier"], name="stagestrategy_stage_tier_unique")]

    def __str__(self) -> str:
        return f"{self.stage}/{self.tier or '*'}"


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class StageRun(models.Model):
    """One set-based stage pass over every customer."""

    policy = models.ForeignKey("lifecycle.LifecyclePolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="stage_runs")
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    customers_staged = models.PositiveIntegerField(_("customers staged"), default=0)
    customers_moved = models.PositiveIntegerField(_("customers whose stage changed"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stage run")
        verbose_name_plural = _("stage runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of} {self.status}"


class CustomerStage(models.Model):
    """A customer's current lifecycle stage with the rule and the figures behind it."""

    customer = models.OneToOneField("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                    related_name="lifecycle_stage", primary_key=True)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="+", db_constraint=False, db_index=False)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices)
    rule = models.CharField(_("rule"), max_length=20, choices=StageRule.choices)
    figures = models.JSONField(_("figures"), default=dict)
    since = models.DateField(_("in this stage since"))
    policy = models.ForeignKey("lifecycle.LifecyclePolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    run = models.ForeignKey("lifecycle.StageRun", verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="+", db_constraint=False, db_index=False)
    as_of = models.DateField(_("as of"))

    class Meta:
        verbose_name = _("customer stage")
        verbose_name_plural = _("customer stages")
        indexes = [models.Index(fields=["branch", "stage"], name="lcstage_branch_stage_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.stage}"


class StageTransition(models.Model):
    """A change of stage (the first staging included: from is blank), with the rule and figures."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="stage_transitions", db_index=False)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="+", db_constraint=False, db_index=False)
    run = models.ForeignKey("lifecycle.StageRun", verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="transitions", db_constraint=False, db_index=False)
    policy = models.ForeignKey("lifecycle.LifecyclePolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False)
    changed_on = models.DateField(_("changed on"))
    from_stage = models.CharField(_("from stage"), max_length=10, blank=True)
    to_stage = models.CharField(_("to stage"), max_length=10, choices=Stage.choices)
    rule = models.CharField(_("rule"), max_length=20, choices=StageRule.choices)
    figures = models.JSONField(_("figures"), default=dict)

    class Meta:
        verbose_name = _("stage transition")
        verbose_name_plural = _("stage transitions")
        ordering = ["-changed_on", "-id"]
        indexes = [
            models.Index(fields=["customer", "-changed_on"], name="lctrans_customer_idx"),
            models.Index(fields=["changed_on", "branch"], name="lctrans_changed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.from_stage or '-'} -> {self.to_stage}"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", _("candidate")
    ACTIVE = "active", _("active")
    RETIRED = "retired", _("retired")


class ValidationMethod(models.TextChoices):
    TEMPORAL = "temporal", _("trained on an earlier cutoff, validated on a later one")
    KFOLD = "kfold", _("stratified 5-fold cross-validation (too little history for a later cutoff)")


class ChurnModel(models.Model):
    """One trained churn model version: its file, checksum, metrics and what it was trained on."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    algorithm = models.CharField(_("algorithm"), max_length=40)
    status = models.CharField(_("status"), max_length=10, choices=ModelStatus.choices,
                              default=ModelStatus.CANDIDATE)
    file_name = models.CharField(_("file"), max_length=200)
    sha256 = models.CharField(_("SHA-256 checksum"), max_length=64)
    policy = models.ForeignKey("lifecycle.LifecyclePolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="models")
    train_cutoff = models.DateField(_("training cutoff"))
    validation_cutoff = models.DateField(_("validation cutoff"))
    horizon_days = models.PositiveIntegerField(_("horizon (days)"))
    validation_method = models.CharField(_("validation"), max_length=10, choices=ValidationMethod.choices)
    train_customers = models.PositiveIntegerField(_("training population"))
    train_positives = models.PositiveIntegerField(_("churned in the training population"))
    validation_customers = models.PositiveIntegerField(_("validation population"))
    validation_positives = models.PositiveIntegerField(_("churned in the validation population"))
    # {"roc_auc":..., "pr_auc":..., "brier":..., "top_decile_lift":..., "top_decile_precision":...,
    #  "comparison": {algorithm: {same metrics}}, "calibration": [[mean predicted, observed, n], ...]}
    metrics = models.JSONField(_("metrics"), default=dict)
    features = models.JSONField(_("features"), default=list)
    top_features = models.JSONField(_("top features"), default=list)  # [[name, mean |contribution|], ...]
    library_versions = models.JSONField(_("library versions"), default=dict)
    training_seconds = models.FloatField(_("training time (s)"), default=0)
    trained_at = models.DateTimeField(_("trained at"), default=timezone.now)
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("trained by"))
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    activated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("activated by"))
    activation_note = models.CharField(_("activation note"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("churn model")
        verbose_name_plural = _("churn models")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="active"), name="churnmodel_one_active"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.algorithm}"

    @property
    def roc_auc(self) -> float | None:
        return self.metrics.get("roc_auc")


class ScoringRun(models.Model):
    """Scoring every open customer as of a date with one model, in chunks on the ``scoring`` queue."""

    model = models.ForeignKey("lifecycle.ChurnModel", verbose_name=_("model"), on_delete=models.PROTECT,
                              related_name="runs")
    policy = models.ForeignKey("lifecycle.LifecyclePolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="+")
    as_of = models.DateField(_("as of"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    customers_total = models.PositiveIntegerField(_("customers"), default=0)
    customers_scored = models.PositiveIntegerField(_("customers scored"), default=0)
    high_risk = models.PositiveIntegerField(_("high-risk customers"), default=0)
    tasks_created = models.PositiveIntegerField(_("retention tasks created"), default=0)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("requested by"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(chunks_done__lte=F("chunks_total")), name="scoringrun_chunks_le_total"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.as_of} {self.status}"

    @property
    def progress_percent(self) -> int:
        if self.status == RunStatus.DONE:
            return 100
        return int(100 * self.chunks_done / self.chunks_total) if self.chunks_total else 0


class ChunkStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")


class ScoringChunk(models.Model):
    """A fixed set of customers of a run, scored by one task in one transaction (or not at all)."""

    run = models.ForeignKey("lifecycle.ScoringRun", verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="chunks")
    number = models.PositiveIntegerField(_("number"))
    customer_ids = ArrayField(models.BigIntegerField(), verbose_name=_("customers"))
    status = models.CharField(_("status"), max_length=10, choices=ChunkStatus.choices, default=ChunkStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    scored = models.PositiveIntegerField(_("customers scored"), default=0)

    class Meta:
        verbose_name = _("scoring chunk")
        verbose_name_plural = _("scoring chunks")
        ordering = ["run", "number"]
        constraints = [models.UniqueConstraint(fields=["run", "number"], name="scoringchunk_run_number_unique")]
        indexes = [models.Index(fields=["status", "queued_at"], name="scoringchunk_status_idx",
                                condition=~Q(status="done"))]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.number} {self.status}"


class ChurnScore(models.Model):
    """A customer's churn probability in one scoring run, with the reasons from the model."""

    run = models.ForeignKey("lifecycle.ScoringRun", verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="scores", db_constraint=False, db_index=False)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="churn_scores", db_constraint=False, db_index=False)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="+", db_constraint=False, db_index=False)
    relationship_manager = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"),
                                             null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                             db_constraint=False, db_index=False)
    probability = models.FloatField(_("churn probability"))
    raw_score = models.FloatField(_("model output (log-odds)"))
    # [{"code": reason code, "contribution": float, "params": {...}}, ...], strongest first.
    reasons = models.JSONField(_("reasons"), default=list)

    class Meta:
        verbose_name = _("churn score")
        verbose_name_plural = _("churn scores")
        constraints = [models.UniqueConstraint(fields=["run", "customer"], name="churnscore_run_customer_unique")]
        indexes = [
            # Covering: the high-risk customers of a run, scoped through customer_scope_idx, index only.
            models.Index(fields=["run", "-probability"], include=["customer"], name="churnscore_run_prob_cust_idx"),
            models.Index(fields=["customer", "-run"], name="churnscore_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.probability:.3f}"


class RetentionOutcome(models.TextChoices):
    RETAINED = "retained", _("retained")
    LOST = "lost", _("lost")
    UNREACHABLE = "unreachable", _("unreachable")


class RetentionStatus(models.TextChoices):
    OPEN = "open", _("open")
    DONE = "done", pgettext_lazy("task", "done")


class RetentionTask(models.Model):
    """A high-risk customer for their RM to work: reasons, suggested action, due date, then the outcome.

    Status moves open -> done only through lifecycle.services.retention_task_record.
    """

    TRANSITIONS = {RetentionStatus.OPEN: {RetentionStatus.DONE}}

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="retention_tasks")
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="retention_tasks")
    score = models.ForeignKey("lifecycle.ChurnScore", verbose_name=_("score"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey("lifecycle.ScoringRun", verbose_name=_("scoring run"), on_delete=models.PROTECT,
                            related_name="retention_tasks")
    probability = models.FloatField(_("churn probability"))
    reasons = models.JSONField(_("reasons"), default=list)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, blank=True)
    suggested_action = models.CharField(_("suggested action"), max_length=24, choices=SuggestedAction.choices)
    status = models.CharField(_("status"), max_length=10, choices=RetentionStatus.choices,
                              default=RetentionStatus.OPEN)
    due_on = models.DateField(_("due on"))
    action_taken = models.CharField(_("action taken"), max_length=500, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=RetentionOutcome.choices, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    # Set by the matching job when the customer later closes (or went inactive) after the task was created.
    churned_on = models.DateField(_("customer churned on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("retention task")
        verbose_name_plural = _("retention tasks")
        ordering = ["due_on", "-probability", "id"]
        indexes = [
            models.Index(fields=["assigned_to", "status", "due_on"], name="retention_assignee_idx"),
            models.Index(fields=["customer", "-created_at"], name="retention_customer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=Q(status="open"),
                                    name="retention_one_open_per_customer"),
            models.CheckConstraint(
                condition=(Q(status="open", outcome="", recorded_at__isnull=True)
                           | (Q(status="done", recorded_at__isnull=False) & ~Q(outcome=""))),
                name="retention_outcome_iff_done",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.status}"

    @property
    def is_overdue(self) -> bool:
        return self.status == RetentionStatus.OPEN and self.due_on < timezone.localdate()
