"""Classification and tiering (MANUAL 2.1), CLV (3.4) and product recommendations (4.3).

Each customer has one current ``CustomerSegment`` (value, behaviour and risk class, tier, CLV,
the figures that produced them and the policy version); ``SegmentHistory`` gets a row whenever a
class or the tier changes. Thresholds are data: ``SegmentationPolicy`` versions, never edited
in place. Tier strategies and overrides, recommendations and the RM's feedback on them live here too.
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

from core.i18n import text_in_ui_language

MONEY = {"max_digits": 18, "decimal_places": 2}
PCT = {"max_digits": 6, "decimal_places": 2,
       "validators": [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]}


class ValueClass(models.TextChoices):
    VIP = "vip", _("VIP customer")
    IMPORTANT = "important", _("important customer")
    GENERAL = "general", _("general customer")


class BehaviourClass(models.TextChoices):
    ACTIVE = "active", _("active customer")
    POTENTIAL = "potential", _("potential customer")
    CHURNED = "churned", _("churned customer")


class RiskClass(models.TextChoices):
    LOW = "low", _("low risk")
    MEDIUM = "medium", _("medium risk")
    HIGH = "high", _("high risk")


class Tier(models.TextChoices):
    """The tier a customer is served at (客户等级); ranks make "moved up a tier" a comparison."""

    VIP = "vip", _("VIP customer")
    IMPORTANT = "important", _("important customer")
    GENERAL = "general", _("general customer")


TIER_RANK = {Tier.GENERAL: 1, Tier.IMPORTANT: 2, Tier.VIP: 3}


class SegmentationPolicy(models.Model):
    """The numbers of the classification, CLV and recommendation rules; each change is a new version.

    Defaults: MANUAL 2.1 where it gives a number (VIP, active), otherwise the choices documented
    in segmentation/services.py and README.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    lookback_days = models.PositiveIntegerField(_("look-back window (days)"), default=365,
                                                validators=[MinValueValidator(30), MaxValueValidator(730)])
    # Value: VIP needs both (MANUAL 2.1); "more than" the amount, "at least" the services.
    vip_min_amount_cny = models.DecimalField(_("VIP: annual transaction amount above (CNY)"), **MONEY,
                                             default=Decimal("1000000"))
    vip_min_services = models.PositiveIntegerField(_("VIP: service interactions a year, at least"), default=5)
    important_min_amount_cny = models.DecimalField(_("important: annual transaction amount above (CNY)"),
                                                   **MONEY, default=Decimal("200000"))
    important_min_assets_cny = models.DecimalField(_("important: assets held, at least (CNY)"), **MONEY,
                                                   default=Decimal("500000"))
    # Behaviour: active needs both (MANUAL 2.1); churned = closed or no transaction for this long.
    active_min_transactions = models.PositiveIntegerField(_("active: transactions a year, at least"), default=3)
    active_min_amount_cny = models.DecimalField(_("active: annual transaction amount, at least (CNY)"), **MONEY,
                                                default=Decimal("50000"))
    churn_inactive_days = models.PositiveIntegerField(_("churned: no transaction for (days)"), default=180,
                                                      validators=[MinValueValidator(1)])
    # Risk: one point per signal (two for a weak credit rating); 1 point medium, 2 or more high.
    weak_credit_ratings = ArrayField(models.CharField(max_length=3), verbose_name=_("weak credit ratings (2 points)"),
                                     default=list)
    fair_credit_ratings = ArrayField(models.CharField(max_length=3), verbose_name=_("fair credit ratings (1 point)"),
                                     default=list)
    large_movement_cny = models.DecimalField(_("large single movement, at least (CNY)"), **MONEY,
                                             default=Decimal("500000"))
    outflow_to_assets_pct = models.DecimalField(_("monthly outflow above this percentage of assets held"), **PCT,
                                                default=Decimal("50"))
    outflow_min_monthly_cny = models.DecimalField(_("monthly outflow counted from (CNY)"), **MONEY,
                                                  default=Decimal("10000"))
    account_changes_max = models.PositiveIntegerField(_("account changes a year, more than"), default=4)
    # CLV: margin on balances by product category, retention by tier, discounting.
    margin_deposit_pct = models.DecimalField(_("margin on deposits (% a year)"), **PCT, default=Decimal("1.50"))
    margin_wealth_pct = models.DecimalField(_("margin on wealth management (% a year)"), **PCT,
                                            default=Decimal("0.80"))
    margin_insurance_pct = models.DecimalField(_("margin on insurance (% a year)"), **PCT, default=Decimal("1.00"))
    margin_loan_pct = models.DecimalField(_("margin on loans (% a year)"), **PCT, default=Decimal("2.00"))
    margin_card_pct = models.DecimalField(_("margin on cards (% a year)"), **PCT, default=Decimal("3.00"))
    retention_vip_pct = models.DecimalField(_("retention a year, VIP (%)"), **PCT, default=Decimal("92"))
    retention_important_pct = models.DecimalField(_("retention a year, important (%)"), **PCT,
                                                  default=Decimal("85"))
    retention_general_pct = models.DecimalField(_("retention a year, general (%)"), **PCT, default=Decimal("75"))
    discount_rate_pct = models.DecimalField(_("discount rate (% a year)"), **PCT, default=Decimal("8"))
    clv_horizon_years = models.PositiveIntegerField(_("CLV horizon (years)"), default=10,
                                                    validators=[MinValueValidator(1), MaxValueValidator(50)])
    override_max_days = models.PositiveIntegerField(_("tier override lasts at most (days)"), default=180,
                                                    validators=[MinValueValidator(1)])
    # Recommendations: a product the customer declined is not offered again for this long.
    declined_cooloff_days = models.PositiveIntegerField(_("declined product not recommended again for (days)"),
                                                        default=90, validators=[MaxValueValidator(730)])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name=_("created by"))

    class Meta:
        verbose_name = _("segmentation policy")
        verbose_name_plural = _("segmentation policies")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(condition=Q(churn_inactive_days__lte=F("lookback_days")),
                                   name="segpolicy_churn_within_lookback"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class ServiceStrategy(models.Model):
    """What a tier gets (MANUAL 2.1): service level, advisor, review rhythm, eligible product categories."""

    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices, unique=True)
    service_level = models.CharField(_("service level (English)"), max_length=200)
    service_level_zh = models.CharField(_("service level (Chinese)"), max_length=200, blank=True)
    dedicated_advisor = models.BooleanField(_("dedicated wealth advisor"), default=False)
    review_every_days = models.PositiveIntegerField(_("review every (days)"), default=180,
                                                    validators=[MinValueValidator(1)])
    eligible_categories = ArrayField(models.CharField(max_length=12), verbose_name=_("eligible product categories"),
                                     default=list)
    risk_controls = models.CharField(_("risk controls (English)"), max_length=300, blank=True)
    risk_controls_zh = models.CharField(_("risk controls (Chinese)"), max_length=300, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("service strategy")
        verbose_name_plural = _("service strategies")
        ordering = ["tier"]

    def __str__(self) -> str:
        return str(self.get_tier_display())

    @property
    def service_level_label(self) -> str:
        return text_in_ui_language(en=self.service_level, zh=self.service_level_zh)

    @property
    def risk_controls_label(self) -> str:
        return text_in_ui_language(en=self.risk_controls, zh=self.risk_controls_zh)


class RunStatus(models.TextChoices):
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class SegmentationRun(models.Model):
    """One classification pass (full or for some customers), with its progress."""

    class Kind(models.TextChoices):
        FULL = "full", _("all customers")
        INCREMENTAL = "incremental", _("some customers")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    policy = models.ForeignKey("segmentation.SegmentationPolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="runs")
    as_of = models.DateTimeField(_("as of"))
    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    step = models.CharField(_("step"), max_length=100, blank=True)
    steps_done = models.PositiveSmallIntegerField(_("steps done"), default=0)
    steps_total = models.PositiveSmallIntegerField(_("steps"), default=4)
    customers_classified = models.PositiveIntegerField(_("customers classified"), default=0)
    customers_changed = models.PositiveIntegerField(_("customers whose class or tier changed"), default=0)
    # Transactions up to this id were seen; the touched-customers job starts after it.
    max_transaction_id = models.BigIntegerField(_("last transaction id seen"), default=0)
    error = models.CharField(_("error"), max_length=500, blank=True)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("segmentation run")
        verbose_name_plural = _("segmentation runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.status}"

    @property
    def progress_percent(self) -> int:
        if self.status == RunStatus.DONE:
            return 100
        return int(100 * self.steps_done / self.steps_total) if self.steps_total else 0


class CustomerSegment(models.Model):
    """A customer's current classes, tier and CLV, with the figures and rules that produced them."""

    customer = models.OneToOneField("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                    related_name="segment", primary_key=True)
    # The customer's branch when classified (the overview counts per branch from an index alone).
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="+", db_constraint=False, db_index=False)
    value_class = models.CharField(_("value class"), max_length=10, choices=ValueClass.choices)
    behaviour_class = models.CharField(_("behaviour class"), max_length=10, choices=BehaviourClass.choices)
    risk_class = models.CharField(_("risk class"), max_length=10, choices=RiskClass.choices)
    computed_tier = models.CharField(_("computed tier"), max_length=10, choices=Tier.choices)
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    value_rule = models.CharField(_("value rule"), max_length=30)
    behaviour_rule = models.CharField(_("behaviour rule"), max_length=30)
    override = models.ForeignKey("segmentation.SegmentOverride", verbose_name=_("override"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)
    # The figures, over the policy's look-back window ending at as_of.
    amount_cny = models.DecimalField(_("transaction amount (CNY)"), **MONEY)
    transaction_count = models.PositiveIntegerField(_("transactions"))
    service_count = models.PositiveIntegerField(_("service interactions"))
    last_transaction_at = models.DateTimeField(_("last transaction"), null=True, blank=True)
    assets_cny = models.DecimalField(_("assets held (CNY)"), **MONEY)
    large_movements = models.PositiveIntegerField(_("large single movements"))
    monthly_outflow_cny = models.DecimalField(_("average monthly outflow (CNY)"), **MONEY)
    account_changes = models.PositiveIntegerField(_("account changes"))
    credit_rating = models.CharField(_("credit rating"), max_length=3, blank=True)
    risk_points = models.PositiveSmallIntegerField(_("risk points"))
    # CLV = annual margin x sum over t=1..H of (retention / (1 + discount))^t.
    annual_margin_cny = models.DecimalField(_("annual margin (CNY)"), **MONEY)
    retention_pct = models.DecimalField(_("retention a year (%)"), max_digits=6, decimal_places=2)
    clv_cny = models.DecimalField(_("customer lifetime value (CLV)"), **MONEY)
    # A 64-bit hash of the values above: the pass compares it, not every column, to find changed rows.
    fingerprint = models.BigIntegerField(_("fingerprint"))
    # Policies and runs are never deleted (admin refuses); no database FK check per written row.
    policy = models.ForeignKey("segmentation.SegmentationPolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="segments", db_constraint=False,
                               db_index=False)
    run = models.ForeignKey("segmentation.SegmentationRun", verbose_name=_("run"), on_delete=models.PROTECT,
                            related_name="segments", db_constraint=False, db_index=False)
    as_of = models.DateTimeField(_("as of"))

    class Meta:
        verbose_name = _("customer segment")
        verbose_name_plural = _("customer segments")
        indexes = [
            models.Index(fields=["tier", "customer"], name="segment_tier_idx"),
            models.Index(fields=["branch", "tier", "value_class", "behaviour_class", "risk_class"],
                         name="segment_branch_classes_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.tier}"


class SegmentCount(models.Model):
    """Customers per (branch, tier, classes): a few hundred rows the /segments/ overview reads.

    Derived data, rewritten from CustomerSegment at the end of every classification run and when
    an approved override changes a tier (segmentation.services.segment_counts_refresh).
    """

    run = models.ForeignKey("segmentation.SegmentationRun", verbose_name=_("run"), null=True, blank=True,
                            on_delete=models.SET_NULL, related_name="+", db_constraint=False, db_index=False)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.CASCADE,
                               related_name="+", db_constraint=False)
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    value_class = models.CharField(_("value class"), max_length=10, choices=ValueClass.choices)
    behaviour_class = models.CharField(_("behaviour class"), max_length=10, choices=BehaviourClass.choices)
    risk_class = models.CharField(_("risk class"), max_length=10, choices=RiskClass.choices)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("segment count")
        verbose_name_plural = _("segment counts")

    def __str__(self) -> str:
        return f"{self.branch_id} {self.tier} {self.value_class}/{self.behaviour_class}/{self.risk_class}"


class SegmentMoveCount(models.Model):
    """Customers per (branch, tier before, tier after) moved by the last full run: the movement matrix."""

    run = models.ForeignKey("segmentation.SegmentationRun", verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="+", db_constraint=False, db_index=False)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.CASCADE,
                               related_name="+", db_constraint=False)
    from_tier = models.CharField(_("from tier"), max_length=10, blank=True)
    to_tier = models.CharField(_("to tier"), max_length=10, choices=Tier.choices)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("tier movement count")
        verbose_name_plural = _("tier movement counts")

    def __str__(self) -> str:
        return f"{self.branch_id} {self.from_tier}->{self.to_tier}"


class SegmentHistory(models.Model):
    """A change of a customer's classes or tier (the first classification included: from is blank)."""

    # Indexed by seghist_customer_idx (customer, -changed_at).
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="segment_history", db_index=False)
    run = models.ForeignKey("segmentation.SegmentationRun", verbose_name=_("run"), null=True, blank=True,
                            on_delete=models.PROTECT, related_name="history", db_constraint=False)
    policy = models.ForeignKey("segmentation.SegmentationPolicy", verbose_name=_("policy version"),
                               on_delete=models.PROTECT, related_name="history", db_constraint=False,
                               db_index=False)
    changed_at = models.DateTimeField(_("changed at"))
    from_tier = models.CharField(_("from tier"), max_length=10, blank=True)
    to_tier = models.CharField(_("to tier"), max_length=10, choices=Tier.choices)
    from_tier_rank = models.PositiveSmallIntegerField(_("from tier rank"), default=0)  # 0: not classified yet
    to_tier_rank = models.PositiveSmallIntegerField(_("to tier rank"))
    from_value_class = models.CharField(_("from value class"), max_length=10, blank=True)
    to_value_class = models.CharField(_("to value class"), max_length=10, choices=ValueClass.choices)
    from_behaviour_class = models.CharField(_("from behaviour class"), max_length=10, blank=True)
    to_behaviour_class = models.CharField(_("to behaviour class"), max_length=10, choices=BehaviourClass.choices)
    from_risk_class = models.CharField(_("from risk class"), max_length=10, blank=True)
    to_risk_class = models.CharField(_("to risk class"), max_length=10, choices=RiskClass.choices)
    override = models.ForeignKey("segmentation.SegmentOverride", verbose_name=_("override"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False)

    class Meta:
        verbose_name = _("segment change")
        verbose_name_plural = _("segment history")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-changed_at"], name="seghist_customer_idx"),
            models.Index(fields=["changed_at"], name="seghist_changed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.from_tier or '-'} -> {self.to_tier}"

    @property
    def moved_up(self) -> bool:
        return self.from_tier_rank > 0 and self.to_tier_rank > self.from_tier_rank


class OverrideStatus(models.TextChoices):
    PROPOSED = "proposed", _("proposed")
    APPROVED = "approved", _("approved")
    REJECTED = "rejected", _("rejected")
    WITHDRAWN = "withdrawn", pgettext_lazy("override status", "withdrawn")


class SegmentOverrideQuerySet(models.QuerySet):
    def in_force(self, on=None) -> SegmentOverrideQuerySet:
        """Approved overrides not yet expired on ``on`` (default today); expiry needs no job."""
        on = on or timezone.localdate()
        return self.filter(status=OverrideStatus.APPROVED, starts_on__lte=on, expires_on__gte=on)


class SegmentOverride(models.Model):
    """A manual tier set by people (maker-checker): an RM or branch manager proposes, another approves.

    Status moves proposed -> approved | rejected | withdrawn only through segmentation.services.
    """

    TRANSITIONS = {OverrideStatus.PROPOSED: {OverrideStatus.APPROVED, OverrideStatus.REJECTED,
                                             OverrideStatus.WITHDRAWN}}

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="segment_overrides")
    tier = models.CharField(_("tier"), max_length=10, choices=Tier.choices)
    reason = models.CharField(_("reason"), max_length=500)
    starts_on = models.DateField(_("first day"))
    expires_on = models.DateField(_("last day"))
    status = models.CharField(_("status"), max_length=10, choices=OverrideStatus.choices,
                              default=OverrideStatus.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("proposed by"),
                                    on_delete=models.PROTECT, related_name="segment_overrides_proposed")
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="segment_overrides_decided")
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)

    objects = SegmentOverrideQuerySet.as_manager()

    class Meta:
        verbose_name = _("tier override")
        verbose_name_plural = _("tier overrides")
        ordering = ["-proposed_at", "-id"]
        indexes = [models.Index(fields=["customer", "status", "expires_on"], name="segoverride_customer_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(expires_on__gte=F("starts_on")), name="segoverride_expires_after_start"),
            models.CheckConstraint(condition=~Q(decided_by=F("proposed_by")), name="segoverride_checker_not_maker"),
            models.CheckConstraint(
                condition=(Q(status="proposed", decided_at__isnull=True)
                           | (~Q(status="proposed") & Q(decided_at__isnull=False))),
                name="segoverride_decided_at_iff_decided",
            ),
            models.UniqueConstraint(fields=["customer"], condition=Q(status="proposed"),
                                    name="segoverride_one_pending_per_customer"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} -> {self.tier} ({self.status})"


class RecommendationRun(models.Model):
    """One run of the recommendation job; its id is the model version stamped on each recommendation."""

    status = models.CharField(_("status"), max_length=10, choices=RunStatus.choices, default=RunStatus.RUNNING)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    recommendations = models.PositiveIntegerField(_("recommendations"), default=0)
    holdings_used = models.PositiveIntegerField(_("holdings used"), default=0)
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("recommendation run")
        verbose_name_plural = _("recommendation runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.status}"


class RecommendationReason(models.TextChoices):
    SIMILAR_HOLDERS = "similar", _("often held together with a product the customer holds")
    POPULAR = "popular", _("popular with customers")


class Recommendation(models.Model):
    """One of a customer's current top product recommendations (rank 1..3).

    Derived data, replaced in bulk by every run from one snapshot of customers and products; the
    foreign keys carry no database constraint so that writing 3 M rows is not 12 M key checks
    (Django still cascades deletes made through the ORM, and the next full run drops orphans). The
    only indexes are the primary key and (customer, rank), which serves every read.
    """

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="recommendations", db_constraint=False, db_index=False)
    product = models.ForeignKey("customers.Product", verbose_name=_("product"), on_delete=models.CASCADE,
                                related_name="recommendations", db_constraint=False, db_index=False)
    rank = models.PositiveSmallIntegerField(_("rank"))
    score = models.FloatField(_("score"))
    reason = models.CharField(_("reason"), max_length=10, choices=RecommendationReason.choices)
    because_product = models.ForeignKey("customers.Product", verbose_name=_("because the customer holds"),
                                        null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                        db_constraint=False, db_index=False)
    run = models.ForeignKey("segmentation.RecommendationRun", verbose_name=_("run"), on_delete=models.CASCADE,
                            related_name="items", db_constraint=False, db_index=False)

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        ordering = ["customer", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "rank"], name="recommendation_customer_rank_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} #{self.rank} {self.product_id}"


class FeedbackOutcome(models.TextChoices):
    OFFERED = "offered", _("offered")
    ACCEPTED = "accepted", _("accepted")
    DECLINED = "declined", _("declined")


class RecommendationFeedback(models.Model):
    """What became of a recommendation (kept for retraining after the recommendation is replaced)."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="recommendation_feedback")
    product = models.ForeignKey("customers.Product", verbose_name=_("product"), on_delete=models.PROTECT,
                                related_name="recommendation_feedback")
    outcome = models.CharField(_("outcome"), max_length=10, choices=FeedbackOutcome.choices)
    rank = models.PositiveSmallIntegerField(_("rank"))
    score = models.FloatField(_("score"))
    reason = models.CharField(_("reason"), max_length=10, choices=RecommendationReason.choices)
    run = models.ForeignKey("segmentation.RecommendationRun", verbose_name=_("run"), null=True,
                            on_delete=models.SET_NULL, related_name="feedback")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("recommendation feedback")
        verbose_name_plural = _("recommendation feedback")
        ordering = ["-recorded_at", "-id"]
        indexes = [models.Index(fields=["customer", "product", "-recorded_at"], name="recfeedback_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.product_id} {self.outcome}"
