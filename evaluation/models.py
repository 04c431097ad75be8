"""Effect evaluation (MANUAL Ch. 6): KPI definitions with versioned targets, KPI snapshots per
period and scope, and the periodic reports.

A KPI is data (``KpiDefinition``: code, unit, direction, documented formula); its computation is
one set-based SQL statement registered in code under the same code (``evaluation/kpis.py``).
Targets are versioned (``KpiTarget``): a change is a new row, and every snapshot is stamped with
the target version that judged it. Snapshots are recomputed whole per (period, KPI) and replace
the previous rows in one transaction. Reports are written once per (kind, period, scope,
revision) and never changed afterwards.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class KpiUnit(models.TextChoices):
    PERCENT = "percent", _("percent")
    HOURS = "hours", _("hours")
    PER_CUSTOMER = "per_customer", _("per customer")
    CNY = "cny", _("CNY")
    SCORE = "score", _("score")
    COUNT = "count", _("count")


class KpiDirection(models.TextChoices):
    """Which way is better; a KPI without a target is tracked and never coloured."""

    HIGHER = "higher", _("higher is better")
    LOWER = "lower", _("lower is better")


class TargetComparison(models.TextChoices):
    GTE = "gte", "≥"
    GT = "gt", ">"
    LTE = "lte", "≤"
    LT = "lt", "<"


class PeriodKind(models.TextChoices):
    MONTH = "month", _("month")
    QUARTER = "quarter", _("quarter")
    YEAR = "year", _("year")


class ScopeKind(models.TextChoices):
    BANK = "bank", _("bank")
    BRANCH = "branch", _("branch")
    RM = "rm", _("relationship manager")


class Rag(models.TextChoices):
    """Red / amber / green against the target; empty when the KPI has no target or no value."""

    GREEN = "green", _("on target")
    AMBER = "amber", _("near target")
    RED = "red", _("off target")
    NONE = "", _("no target")


class KpiDefinition(models.Model):
    """One KPI of MANUAL Ch. 6: what it measures and how, in words an auditor can check.

    ``name`` and the formula texts are stored in English and shown through gettext (the seeded
    texts are in the catalog); the SQL that computes it is registered in ``evaluation.kpis``
    under ``code``.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    unit = models.CharField(_("unit"), max_length=12, choices=KpiUnit.choices)
    direction = models.CharField(_("direction"), max_length=8, choices=KpiDirection.choices)
    numerator = models.CharField(_("numerator"), max_length=400)
    denominator = models.CharField(_("denominator"), max_length=400, blank=True)
    period_rule = models.CharField(_("period"), max_length=400)
    exclusions = models.CharField(_("exclusions"), max_length=400, blank=True)
    by_tier = models.BooleanField(_("broken down by tier"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("KPI definition")
        verbose_name_plural = _("KPI definitions")
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    @property
    def label(self) -> str:
        return gettext(self.name)

    @property
    def numerator_label(self) -> str:
        return gettext(self.numerator)

    @property
    def denominator_label(self) -> str:
        return gettext(self.denominator) if self.denominator else ""

    @property
    def period_label(self) -> str:
        return gettext(self.period_rule)

    @property
    def exclusions_label(self) -> str:
        return gettext(self.exclusions) if self.exclusions else ""


class KpiTarget(models.Model):
    """A version of one KPI's target. Never edited: a change is a new version (STYLE §5)."""

    kpi = models.ForeignKey("evaluation.KpiDefinition", verbose_name=_("KPI"), on_delete=models.PROTECT,
                            related_name="targets")
    version = models.PositiveIntegerField(_("version"))
    comparison = models.CharField(_("comparison"), max_length=3, choices=TargetComparison.choices)
    value = models.DecimalField(_("target"), max_digits=14, decimal_places=4)
    amber_margin_pct = models.DecimalField(
        _("amber band (percent of the target)"), max_digits=6, decimal_places=2, default=Decimal("10"),
        help_text=_("A value missing the target by at most this share of the target shows amber, not red."),
    )
    effective_from = models.DateField(_("in force from"),
                                      help_text=_("Periods starting on or after this day are judged by it."))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("KPI target")
        verbose_name_plural = _("KPI targets")
        ordering = ["kpi", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "version"], name="kpi_target_version_unique"),
            models.CheckConstraint(condition=Q(amber_margin_pct__gte=0), name="kpi_target_amber_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi.code} {self.get_comparison_display()} {self.value} (v{self.version})"

    def is_met_by(self, value: Decimal) -> bool:
        return {
            TargetComparison.GTE: value >= self.value,
            TargetComparison.GT: value > self.value,
            TargetComparison.LTE: value <= self.value,
            TargetComparison.LT: value < self.value,
        }[self.comparison]

    def rag_for(self, value: Decimal | None) -> str:
        """Green when met; amber when missed by at most the amber band; red otherwise."""
        if value is None:
            return Rag.NONE
        if self.is_met_by(value):
            return Rag.GREEN
        margin = abs(self.value) * self.amber_margin_pct / 100
        return Rag.AMBER if abs(value - self.value) <= margin else Rag.RED


class KpiSnapshot(models.Model):
    """One KPI's figure for one period and scope, with the numbers behind it and when they were read.

    ``dimension`` is "" for the KPI as a whole, or a tier code for a KPI broken down by tier.
    """

    kpi = models.ForeignKey("evaluation.KpiDefinition", verbose_name=_("KPI"), on_delete=models.PROTECT,
                            related_name="snapshots")
    period_kind = models.CharField(_("period"), max_length=8, choices=PeriodKind.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"), help_text=_("The last day of the period."))
    scope = models.CharField(_("scope"), max_length=8, choices=ScopeKind.choices)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.CASCADE, related_name="+", db_constraint=False)
    relationship_manager = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"),
                                             null=True, blank=True, on_delete=models.CASCADE, related_name="+",
                                             db_constraint=False)
    dimension = models.CharField(_("dimension"), max_length=20, blank=True, default="")
    numerator = models.DecimalField(_("numerator"), max_digits=24, decimal_places=4, null=True)
    denominator = models.DecimalField(_("denominator"), max_digits=24, decimal_places=4, null=True)
    value = models.DecimalField(_("value"), max_digits=20, decimal_places=4, null=True)
    target = models.ForeignKey("evaluation.KpiTarget", verbose_name=_("target version"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="snapshots")
    rag = models.CharField(_("status"), max_length=5, choices=Rag.choices, blank=True, default="")
    data_as_of = models.DateTimeField(_("data as of"))
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("KPI snapshot")
        verbose_name_plural = _("KPI snapshots")
        ordering = ["kpi", "-period_start"]
        constraints = [
            models.UniqueConstraint(
                fields=["kpi", "period_kind", "period_start", "scope", "branch", "relationship_manager", "dimension"],
                nulls_distinct=False, name="kpi_snapshot_unique",
            ),
            models.CheckConstraint(
                condition=(Q(scope="bank", branch__isnull=True, relationship_manager__isnull=True)
                           | Q(scope="branch", branch__isnull=False, relationship_manager__isnull=True)
                           | Q(scope="rm", relationship_manager__isnull=False)),
                name="kpi_snapshot_scope_columns",
            ),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="kpi_snapshot_period_order"),
        ]
        indexes = [
            # Dashboards read one period kind and scope over time, per KPI.
            models.Index(fields=["period_kind", "scope", "branch", "relationship_manager", "period_start"],
                         name="kpi_snapshot_scope_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kpi_id} {self.period_kind} {self.period_start} {self.scope}"


class KpiRefreshState(models.Model):
    """Where the last refresh stopped reading each source: rows after it are late or new data."""

    key = models.CharField(_("key"), max_length=20, unique=True, default="default")
    watermarks = models.JSONField(_("last ids seen"), default=dict, blank=True)
    refreshed_at = models.DateTimeField(_("refreshed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("KPI refresh state")
        verbose_name_plural = _("KPI refresh states")

    def __str__(self) -> str:
        return f"{self.key} {self.refreshed_at}"


class ReportKind(models.TextChoices):
    MONTHLY = "monthly", _("monthly report")
    QUARTERLY = "quarterly", _("quarterly report")
    ANNUAL = "annual", _("annual report")


REPORT_PERIOD_KIND = {
    ReportKind.MONTHLY: PeriodKind.MONTH,
    ReportKind.QUARTERLY: PeriodKind.QUARTER,
    ReportKind.ANNUAL: PeriodKind.YEAR,
}


class ReportStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("generating")
    DONE = "done", _("ready")
    FAILED = "failed", _("failed")


class Report(models.Model):
    """A periodic report for the bank (branch empty) or one branch.

    Revision 1 is what beat generates; a regeneration on demand adds revision 2, 3, ... and the
    earlier ones stay as they were. The unique constraint makes a second beat's insert a no-op.
    Once ``done``, nothing changes the row (services write it once; admin shows it read-only).
    """

    kind = models.CharField(_("kind"), max_length=10, choices=ReportKind.choices)
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="+",
                               help_text=_("Empty: the whole bank."))
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    status = models.CharField(_("status"), max_length=8, choices=ReportStatus.choices, default=ReportStatus.QUEUED)
    progress_pct = models.PositiveSmallIntegerField(_("progress (percent)"), default=0)
    step = models.CharField(_("step"), max_length=100, blank=True)
    language = models.CharField(_("language"), max_length=10, default="zh-hans")
    content = models.JSONField(_("content"), default=dict, blank=True)
    data_as_of = models.DateTimeField(_("data as of"), null=True, blank=True)
    pdf = models.BinaryField(_("PDF"), null=True, blank=True)
    xlsx = models.BinaryField(_("XLSX"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+",
                                     help_text=_("Empty when generated by the schedule."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-period_start", "kind", "branch", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period_start", "branch", "revision"], nulls_distinct=False,
                                    name="report_one_per_kind_period_scope_revision"),
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="report_period_order"),
            models.CheckConstraint(condition=Q(progress_pct__lte=100), name="report_progress_le_100"),
        ]

    def __str__(self) -> str:
        scope = self.branch.name if self.branch_id else gettext("whole bank")
        return f"{self.get_kind_display()} {self.period_label} {scope} r{self.revision}"

    @property
    def period_label(self) -> str:
        if self.kind == ReportKind.MONTHLY:
            return f"{self.period_start:%Y-%m}"
        if self.kind == ReportKind.QUARTERLY:
            return f"{self.period_start.year}-Q{(self.period_start.month - 1) // 3 + 1}"
        return f"{self.period_start.year}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ReportStatus.DONE, ReportStatus.FAILED)
