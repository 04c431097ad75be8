"""Continuous improvement (MANUAL Ch. 7): PDCA initiatives tied to a KPI of the evaluation
registry, staff suggestions and their rewards, rewards to customers for feedback, and RM
scorecards weighted by a versioned policy.

An initiative names its KPI by the registry's unique ``code`` (not a foreign key): the registry
is the evaluation app's, and its definitions are data that may be renamed or retired without
rewriting an initiative's history.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.i18n import text_in_ui_language
from evaluation.models import PeriodKind
from evaluation.periods import Period, period_start_for


# Periods are the evaluation registry's (``kpi_snapshot_value(period_kind=...)``): one home for their
# kinds, boundaries and labels (evaluation.periods); these helpers only adapt its Period to dates.
def period_start_of(kind: str, day: date) -> date:
    return period_start_for(kind, day)


def period_end_of(kind: str, start: date) -> date:
    """The first day after the period that starts on ``start`` (exclusive end)."""
    return Period(kind, start).next_start


def period_before(kind: str, start: date) -> date:
    return Period(kind, start).previous().start


def period_label(kind: str, start: date) -> str:
    return Period(kind, start).label


class Phase(models.TextChoices):
    PLAN = "plan", _("plan")
    DO = "do", _("do")
    CHECK = "check", _("check")
    ACT = "act", _("act")
    CLOSED = "closed", _("closed")


# Act either closes the initiative (with a verdict from the data) or starts another cycle.
PHASE_TRANSITIONS = {
    Phase.PLAN: {Phase.DO},
    Phase.DO: {Phase.CHECK},
    Phase.CHECK: {Phase.ACT},
    Phase.ACT: {Phase.CLOSED, Phase.PLAN},
    Phase.CLOSED: set(),
}


class Verdict(models.TextChoices):
    MET = "met", _("target met")
    NOT_MET = "not_met", _("target not met")


class Initiative(models.Model):
    title = models.CharField(_("title"), max_length=200)
    problem = models.TextField(_("problem"), max_length=4000)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"), on_delete=models.PROTECT,
                              related_name="initiatives_owned")
    team = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("team"), blank=True,
                                  related_name="initiative_teams")
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="initiatives",
                               help_text=_("Empty for a bank-wide initiative."))
    suggestion = models.ForeignKey("improvement.Suggestion", verbose_name=_("from suggestion"), null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="initiatives")
    kpi_code = models.SlugField(_("target KPI"), max_length=40)
    kpi_period_kind = models.CharField(_("KPI period"), max_length=8, choices=PeriodKind.choices,
                                       default=PeriodKind.MONTH)
    baseline_period_start = models.DateField(_("baseline period"))
    baseline_value = models.DecimalField(_("baseline"), max_digits=14, decimal_places=4)
    target_value = models.DecimalField(_("target"), max_digits=14, decimal_places=4)
    # "higher" or "lower" is better, from the KPI definition when the initiative was opened.
    direction = models.CharField(_("direction"), max_length=8,
                                 choices=[("higher", _("higher is better")), ("lower", _("lower is better"))])
    check_period_start = models.DateField(_("check period"))
    phase = models.CharField(_("phase"), max_length=8, choices=Phase.choices, default=Phase.PLAN)
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    measured_value = models.DecimalField(_("measured"), max_digits=14, decimal_places=4, null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=8, choices=Verdict.choices, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("improvement initiative")
        verbose_name_plural = _("improvement initiatives")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(check_period_start__gte=F("baseline_period_start")),
                                   name="initiative_check_after_baseline"),
            models.CheckConstraint(
                condition=(Q(phase="closed", closed_at__isnull=False, measured_value__isnull=False)
                           & ~Q(verdict="")) | (~Q(phase="closed") & Q(closed_at__isnull=True, verdict="")),
                name="initiative_closed_with_verdict",
            ),
        ]
        indexes = [models.Index(fields=["branch", "phase"], name="initiative_branch_phase_idx")]

    def __str__(self) -> str:
        return self.title

    def verdict_for(self, measured: Decimal) -> str:
        """Met when the measured value reaches the target in the KPI's better direction."""
        if self.direction == "lower":
            return Verdict.MET if measured <= self.target_value else Verdict.NOT_MET
        return Verdict.MET if measured >= self.target_value else Verdict.NOT_MET

    @property
    def check_period_label(self) -> str:
        return period_label(self.kpi_period_kind, self.check_period_start)

    @property
    def baseline_period_label(self) -> str:
        return period_label(self.kpi_period_kind, self.baseline_period_start)


class InitiativePhaseNote(models.Model):
    """Dates and notes of one PDCA phase of one cycle."""

    initiative = models.ForeignKey("improvement.Initiative", verbose_name=_("initiative"), on_delete=models.CASCADE,
                                   related_name="phase_notes")
    cycle = models.PositiveSmallIntegerField(_("cycle"), default=1)
    phase = models.CharField(_("phase"), max_length=8, choices=Phase.choices)
    starts_on = models.DateField(_("starts"))
    ends_on = models.DateField(_("ends"), null=True, blank=True)
    notes = models.TextField(_("notes"), max_length=4000, blank=True)

    class Meta:
        verbose_name = _("PDCA phase")
        verbose_name_plural = _("PDCA phases")
        ordering = ["initiative", "cycle", "starts_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["initiative", "cycle", "phase"], name="phase_note_once_per_cycle"),
            models.CheckConstraint(condition=Q(ends_on__isnull=True) | Q(ends_on__gte=F("starts_on")),
                                   name="phase_note_ends_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.initiative_id} {self.cycle} {self.phase}"


class InitiativeEvent(models.Model):
    """Each phase change, with who made it and, on closing, the figure that decided the verdict."""

    initiative = models.ForeignKey("improvement.Initiative", verbose_name=_("initiative"), on_delete=models.CASCADE,
                                   related_name="events")
    from_phase = models.CharField(_("from"), max_length=8, choices=Phase.choices, blank=True)
    to_phase = models.CharField(_("to"), max_length=8, choices=Phase.choices)
    measured_value = models.DecimalField(_("measured"), max_digits=14, decimal_places=4, null=True, blank=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL,
                           related_name="+")
    occurred_at = models.DateTimeField(_("time"))

    class Meta:
        verbose_name = _("initiative event")
        verbose_name_plural = _("initiative events")
        ordering = ["initiative", "occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.initiative_id} {self.from_phase}→{self.to_phase}"


class SuggestionStatus(models.TextChoices):
    SUBMITTED = "submitted", _("submitted")
    UNDER_REVIEW = "under_review", _("under review")
    ADOPTED = "adopted", _("adopted")
    REJECTED = "rejected", pgettext_lazy("suggestion status", "rejected")


SUGGESTION_TRANSITIONS = {
    SuggestionStatus.SUBMITTED: {SuggestionStatus.UNDER_REVIEW, SuggestionStatus.ADOPTED, SuggestionStatus.REJECTED},
    SuggestionStatus.UNDER_REVIEW: {SuggestionStatus.ADOPTED, SuggestionStatus.REJECTED},
    SuggestionStatus.ADOPTED: set(),
    SuggestionStatus.REJECTED: set(),
}


class Suggestion(models.Model):
    """An improvement suggestion from a member of staff (合理化建议)."""

    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("suggestion"), max_length=4000)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("submitted by"),
                                     on_delete=models.PROTECT, related_name="suggestions")
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="suggestions")
    submitted_at = models.DateTimeField(_("submitted at"))
    status = models.CharField(_("status"), max_length=14, choices=SuggestionStatus.choices,
                              default=SuggestionStatus.SUBMITTED)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason"), max_length=2000, blank=True)
    # Set by the reviewer on adoption: paid at once, and the bonus when an initiative it became meets its target.
    reward_points = models.PositiveIntegerField(_("reward points"), default=0,
                                                validators=[MaxValueValidator(10_000)])
    bonus_points_if_met = models.PositiveIntegerField(_("bonus points if the initiative meets its target"),
                                                      default=0, validators=[MaxValueValidator(10_000)])

    class Meta:
        verbose_name = _("suggestion")
        verbose_name_plural = _("suggestions")
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["submitted", "under_review"], decided_at__isnull=True)
                | (Q(status__in=["adopted", "rejected"], decided_at__isnull=False) & ~Q(decision_reason="")),
                name="suggestion_decided_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class StaffRewardReason(models.TextChoices):
    ADOPTED = "adopted", _("suggestion adopted")
    TARGET_MET = "target_met", _("initiative met its target")


class StaffReward(models.Model):
    """Points paid to the member of staff behind a suggestion."""

    suggestion = models.ForeignKey("improvement.Suggestion", verbose_name=_("suggestion"), on_delete=models.PROTECT,
                                   related_name="rewards")
    initiative = models.ForeignKey("improvement.Initiative", verbose_name=_("initiative"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="rewards")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.PROTECT,
                             related_name="improvement_rewards")
    reason = models.CharField(_("reason"), max_length=12, choices=StaffRewardReason.choices)
    points = models.PositiveIntegerField(_("points"))
    awarded_at = models.DateTimeField(_("awarded at"))
    awarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("awarded by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("staff reward")
        verbose_name_plural = _("staff rewards")
        ordering = ["-awarded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["suggestion"], condition=Q(reason="adopted"),
                                    name="staff_reward_once_on_adoption"),
            models.UniqueConstraint(fields=["suggestion", "initiative"], condition=Q(reason="target_met"),
                                    name="staff_reward_once_per_initiative_met"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.points}"


class CustomerRewardKind(models.TextChoices):
    POINTS = "points", _("loyalty points")
    GIFT = "gift", _("small gift")
    THANKS = "thanks", _("thank-you message")


class CustomerFeedbackReward(models.Model):
    """A reward to a customer for their feedback, recorded against the survey answer it thanks."""

    survey_response = models.OneToOneField("service.SurveyResponse", verbose_name=_("survey answer"),
                                           on_delete=models.PROTECT, related_name="feedback_reward")
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT,
                                 related_name="feedback_rewards")
    kind = models.CharField(_("reward"), max_length=8, choices=CustomerRewardKind.choices)
    points = models.PositiveIntegerField(_("points"), default=0, validators=[MaxValueValidator(100_000)])
    note = models.CharField(_("note"), max_length=300, blank=True)
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("granted by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    granted_at = models.DateTimeField(_("granted at"))

    class Meta:
        verbose_name = _("customer feedback reward")
        verbose_name_plural = _("customer feedback rewards")
        ordering = ["-granted_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind}"


class ScorecardPolicy(models.Model):
    """Weights of the RM scorecard, one immutable version each (STYLE §5); cards carry the version.

    Each component is scored 0-100 before weighting:
    satisfaction = share of survey answers with CSAT 4 or 5 (%); retention = share of the customers
    managed at the start of the period still with the bank at its end (%); CLV growth = 50 + 50 x
    growth / ``clv_growth_pct_for_full``, clamped to 0..100 (no change scores 50); complaints =
    100 x (1 - complaints per 100 customers / ``complaints_per_100_at_zero``), clamped to 0..100;
    SLA = share of the period's resolved complaints with no clock breached (%); training = share of
    the RM's courses due by the period's end that are completed (%). The score is the weighted mean
    over the components that have data (weights of the missing ones are left out, not counted as 0).
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    effective_from = models.DateField(_("in force from"))
    weight_satisfaction = models.PositiveSmallIntegerField(_("weight: satisfaction"))
    weight_retention = models.PositiveSmallIntegerField(_("weight: retention"))
    weight_clv_growth = models.PositiveSmallIntegerField(_("weight: CLV growth"))
    weight_complaints = models.PositiveSmallIntegerField(_("weight: complaints"))
    weight_sla = models.PositiveSmallIntegerField(_("weight: complaint SLA"))
    weight_training = models.PositiveSmallIntegerField(_("weight: training completion"))
    clv_growth_pct_for_full = models.DecimalField(
        _("CLV growth (%) that scores 100"), max_digits=6, decimal_places=2, default=Decimal("20"),
        validators=[MinValueValidator(Decimal("0.01"))])
    complaints_per_100_at_zero = models.DecimalField(
        _("complaints per 100 customers that score 0"), max_digits=6, decimal_places=2, default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0.01"))])
    rationale = models.TextField(_("rationale"), help_text=_("Why these weights: shown with every scorecard."))
    rationale_zh = models.TextField(_("rationale (Chinese)"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("scorecard policy")
        verbose_name_plural = _("scorecard policies")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(  # the weights are percentages of the score
                condition=Q(weight_satisfaction=100 - F("weight_retention") - F("weight_clv_growth")
                            - F("weight_complaints") - F("weight_sla") - F("weight_training")),
                name="scorecard_policy_weights_sum_100",
            ),
            models.CheckConstraint(
                condition=Q(clv_growth_pct_for_full__gt=0, complaints_per_100_at_zero__gt=0),
                name="scorecard_policy_scales_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.version} ({self.effective_from})"

    @property
    def rationale_text(self) -> str:
        return text_in_ui_language(en=self.rationale, zh=self.rationale_zh)

    WEIGHT_FIELDS = ("weight_satisfaction", "weight_retention", "weight_clv_growth", "weight_complaints",
                     "weight_sla", "weight_training")

    @property
    def weight_total(self) -> int:
        return sum(getattr(self, name) for name in self.WEIGHT_FIELDS)


class Scorecard(models.Model):
    """One RM's card for one period: the figures, their 0-100 component scores, the score and rank."""

    policy = models.ForeignKey("improvement.ScorecardPolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="scorecards")
    period_kind = models.CharField(_("period"), max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"))
    relationship_manager = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"),
                                             on_delete=models.CASCADE, related_name="scorecards")
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="scorecards")
    customers = models.PositiveIntegerField(_("customers at the start"))
    satisfaction_pct = models.DecimalField(_("satisfaction (%)"), max_digits=5, decimal_places=2, null=True)
    retention_pct = models.DecimalField(_("retention (%)"), max_digits=5, decimal_places=2, null=True)
    clv_total_cny = models.DecimalField(_("CLV of the book (CNY)"), max_digits=18, decimal_places=2)
    clv_growth_pct = models.DecimalField(_("CLV growth (%)"), max_digits=9, decimal_places=2, null=True)
    complaints = models.PositiveIntegerField(_("complaints"))
    complaints_per_100 = models.DecimalField(_("complaints per 100 customers"), max_digits=9, decimal_places=2,
                                             null=True)
    sla_pct = models.DecimalField(_("complaints within SLA (%)"), max_digits=5, decimal_places=2, null=True)
    training_completion_pct = models.DecimalField(_("training completion (%)"), max_digits=5, decimal_places=2,
                                                  null=True)
    # Component scores 0-100 as weighted (None: no data for the component this period).
    components = models.JSONField(_("component scores"), default=dict)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=2, null=True)
    rank_in_branch = models.PositiveIntegerField(_("rank in branch"), null=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("RM scorecard")
        verbose_name_plural = _("RM scorecards")
        ordering = ["period_kind", "-period_start", "branch", "rank_in_branch", "relationship_manager_id"]
        constraints = [
            models.UniqueConstraint(fields=["relationship_manager", "period_kind", "period_start"],
                                    name="scorecard_once_per_rm_period"),
        ]
        indexes = [models.Index(fields=["period_kind", "period_start", "branch"], name="scorecard_period_idx")]

    def __str__(self) -> str:
        return f"{self.relationship_manager_id} {self.period_kind} {self.period_start}"

    @property
    def period_label(self) -> str:
        return period_label(self.period_kind, self.period_start)
