"""Complaints (MANUAL 3.3, 3.3a): categories, versioned SLA policies, complaints, their timeline.

A complaint moves through an explicit status machine (``TRANSITIONS``); every move is one
service in complaints/services.py that locks the row, checks the expected state and writes a
``ComplaintEvent``. Deadlines come from the ``SlaPolicy`` version in force when the complaint
was received, and the complaint keeps a reference to that version.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Upper
from django.db.models.lookups import LessThan
from django.urls import reverse
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase

from accounts.models import SharedRecordPermissionBase
from core import masking
from core.fields import BlindIndexField, EncryptedCharField


class ComplaintStatus(models.TextChoices):
    RECEIVED = "received", _("received")
    ACKNOWLEDGED = "acknowledged", _("acknowledged")
    INVESTIGATING = "investigating", _("investigating")
    ESCALATED = "escalated", _("escalated")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", pgettext_lazy("complaint status", "closed")


OPEN_STATUSES = (
    ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.INVESTIGATING, ComplaintStatus.ESCALATED,
)
_OPEN_STATUS_VALUES = [status.value for status in OPEN_STATUSES]


class ComplaintAction(models.TextChoices):
    """What staff (or the customer, for reopen) ask for; each maps to one service."""

    ACKNOWLEDGE = "acknowledge", _("Acknowledge (first response)")
    INVESTIGATE = "investigate", _("Start investigating")
    ESCALATE = "escalate", _("Escalate to the branch manager")
    RESOLVE = "resolve", _("Resolve")
    CLOSE = "close", _("Close")
    REOPEN = "reopen", _("Reopen")


# The status machine: action -> (statuses it may start from, status it leads to).
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    ComplaintAction.ACKNOWLEDGE: (
        frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.ESCALATED}), ComplaintStatus.ACKNOWLEDGED),
    ComplaintAction.INVESTIGATE: (
        frozenset({ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.ESCALATED}), ComplaintStatus.INVESTIGATING),
    ComplaintAction.ESCALATE: (
        frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.INVESTIGATING}),
        ComplaintStatus.ESCALATED),
    ComplaintAction.RESOLVE: (
        frozenset({ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.INVESTIGATING, ComplaintStatus.ESCALATED}),
        ComplaintStatus.RESOLVED),
    ComplaintAction.CLOSE: (frozenset({ComplaintStatus.RESOLVED}), ComplaintStatus.CLOSED),
    ComplaintAction.REOPEN: (
        frozenset({ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED}), ComplaintStatus.INVESTIGATING),
}


def actions_allowed_from(status: str) -> list[str]:
    """The actions the status machine offers from ``status``, in declaration order."""
    return [action.value for action in ComplaintAction if status in TRANSITIONS[action][0]]


class ComplaintChannel(models.TextChoices):
    """How the complaint reached the bank; ``regulator_code`` maps to axis A of 3.3a."""

    BRANCH = "branch", _("branch counter")
    PHONE = "phone", _("phone")
    ONLINE = "online", _("online banking")
    APP = "app", _("mobile app")
    REGULATOR = "regulator", _("regulator referral")


CHANNEL_REGULATOR_CODES = {
    ComplaintChannel.BRANCH: "A0101",  # front office, on-site at the branch
    ComplaintChannel.PHONE: "A0302",  # electronic, phone
    ComplaintChannel.ONLINE: "A0301",  # electronic, online banking
    ComplaintChannel.APP: "A0303",  # electronic, mobile app
    ComplaintChannel.REGULATOR: "A04",  # third party
}


class ComplaintSeverity(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")
    CRITICAL = "critical", _("critical")


SEVERITY_RANK = {ComplaintSeverity.LOW: 1, ComplaintSeverity.MEDIUM: 2, ComplaintSeverity.HIGH: 3,
                 ComplaintSeverity.CRITICAL: 4}


class RootCause(models.TextChoices):
    """The cause recorded at resolution: axis C of the central bank's classification (3.3a)."""

    SERVICE = "C01", _("service attitude and quality")
    FACILITIES = "C02", _("facilities, equipment and systems")
    RULES = "C03", _("rules and processes")
    MARKETING = "C04", _("marketing methods")
    DISCLOSURE = "C05", _("information disclosure")
    PRODUCT_RETURN = "C06", _("product returns")
    CHOICE = "C07", _("the consumer's right to choose")
    CONTRACT = "C08", _("contract terms")
    FUNDS_SAFETY = "C09", _("safety of the consumer's funds")
    INFORMATION_SAFETY = "C10", _("safety of the consumer's information")
    DEBT_COLLECTION = "C11", _("debt-collection methods")
    OTHER = "C99", _("other")


class ComplaintCategory(models.Model):
    """A node of the business-type tree (axis B of 3.3a); editable in admin, seeded by migration 0002."""

    code = models.CharField(_("code"), max_length=16, unique=True, help_text=_("Regulator code, e.g. B03 or B0301."))
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100, blank=True)
    parent = models.ForeignKey("self", verbose_name=_("parent category"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="children")
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("complaint category")
        verbose_name_plural = _("complaint categories")
        ordering = ["sort_order", "code"]
        constraints = [models.CheckConstraint(condition=~Q(parent=F("pk")), name="complaint_category_not_own_parent")]

    def __str__(self) -> str:
        if self.parent_id and self.parent:
            return f"{self.parent.label} / {self.label}"
        return self.label

    @property
    def label(self) -> str:
        """The name in the current language (zh-hans reads ``name_zh`` when set)."""
        if self.name_zh and (get_language() or "").lower().startswith("zh"):
            return self.name_zh
        return self.name

    @property
    def top_level_id(self) -> int:
        return self.parent_id or self.pk


class SlaPolicy(models.Model):
    """A version of the complaint SLA: defaults, warning points, reopen window and per-category rules.

    Versions never change once complaints use them; a change is a new version with a later
    ``effective_from``. A complaint is stamped with the version (and rule) that set its deadlines.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    effective_from = models.DateTimeField(_("in force from"))
    first_response_minutes = models.PositiveIntegerField(_("first response due after (minutes)"), default=24 * 60,
                                                         validators=[MinValueValidator(1)])
    resolution_minutes = models.PositiveIntegerField(_("resolution due after (minutes)"), default=48 * 60,
                                                     validators=[MinValueValidator(1)])
    warning_pct = models.PositiveSmallIntegerField(_("first warning at (percent of the clock)"), default=75,
                                                   validators=[MinValueValidator(1), MaxValueValidator(99)])
    critical_pct = models.PositiveSmallIntegerField(_("second warning at (percent of the clock)"), default=90,
                                                    validators=[MinValueValidator(1), MaxValueValidator(99)])
    reopen_window_days = models.PositiveSmallIntegerField(_("reopen allowed for (days after resolution)"),
                                                          default=30)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["-version"]
        constraints = [
            models.CheckConstraint(condition=Q(warning_pct__lt=F("critical_pct")), name="sla_warning_before_critical"),
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class SlaRule(models.Model):
    """An override inside one policy version for a category (and its sub-categories) and/or a severity."""

    policy = models.ForeignKey("complaints.SlaPolicy", verbose_name=_("SLA policy"), on_delete=models.CASCADE,
                               related_name="rules")
    category = models.ForeignKey("complaints.ComplaintCategory", verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="sla_rules",
                                 help_text=_("Empty: every category."))
    severity = models.CharField(_("severity"), max_length=10, choices=ComplaintSeverity.choices, blank=True,
                                help_text=_("Empty: every severity."))
    first_response_minutes = models.PositiveIntegerField(_("first response due after (minutes)"),
                                                         validators=[MinValueValidator(1)])
    resolution_minutes = models.PositiveIntegerField(_("resolution due after (minutes)"),
                                                     validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("SLA rule")
        verbose_name_plural = _("SLA rules")
        constraints = [
            models.UniqueConstraint(fields=["policy", "category", "severity"], nulls_distinct=False,
                                    name="sla_rule_unique_per_policy"),
            models.CheckConstraint(condition=Q(category__isnull=False) | ~Q(severity=""),
                                   name="sla_rule_names_category_or_severity"),
        ]

    def __str__(self) -> str:
        return f"{self.policy} {self.category or '*'} {self.severity or '*'}"


class SlaState(models.TextChoices):
    """Where a running clock stands: under the warning point, past 75 %, past 90 %, overdue."""

    ON_TRACK = "on_track", _("on track")
    WARNING = "warning", _("due soon")
    CRITICAL = "critical", _("due very soon")
    OVERDUE = "overdue", _("overdue")
    MET = "met", _("met")
    MISSED = "missed", _("missed")


def sla_state_at(*, started_at: datetime, due_at: datetime, done_at: datetime | None, now: datetime,
                 warning_pct: int = 75, critical_pct: int = 90) -> SlaState:
    """Classify one clock. Overdue from the due instant on (24:00:00 is late, 23:59:59 is not)."""
    if done_at is not None:
        return SlaState.MET if done_at < due_at else SlaState.MISSED
    if now >= due_at:
        return SlaState.OVERDUE
    total = (due_at - started_at).total_seconds()
    elapsed = (now - started_at).total_seconds()
    # Compare elapsed * 100 with pct * total: exact at the boundary, no float division.
    if elapsed * 100 >= critical_pct * total:
        return SlaState.CRITICAL
    if elapsed * 100 >= warning_pct * total:
        return SlaState.WARNING
    return SlaState.ON_TRACK


class ComplaintQuerySet(models.QuerySet):
    def open(self) -> ComplaintQuerySet:
        return self.filter(status__in=_OPEN_STATUS_VALUES)

    def breached(self) -> ComplaintQuerySet:
        return self.filter(Q(first_response_breached_at__isnull=False) | Q(resolution_breached_at__isnull=False))

    def survey_pending(self) -> ComplaintQuerySet:
        """Resolved (or closed) with no customer linked: the satisfaction survey waits for the link."""
        return self.filter(resolved_at__isnull=False, customer__isnull=True)


# Resolved within due: the last resolution met its clock and the first resolution met the
# original deadline, so a reopening never turns an original miss into a hit. The Coalesce
# covers rows written without the first-clock columns (never reopened, so they coincide).
RESOLVED_ON_TIME = Q(resolved_at__lt=F("resolution_due_at")) & Q(LessThan(
    Coalesce("first_resolved_at", "resolved_at"), Coalesce("original_resolution_due_at", "resolution_due_at")))


class Complaint(models.Model):
    """A customer's complaint, identified by a human-friendly reference (TS20261128-000123)."""

    reference = models.CharField(_("reference number"), max_length=24, unique=True, editable=False)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="complaints")
    # Who complained when no customer is linked yet (walk-in, online form); the phone also
    # proves the complainant on the public progress page.
    contact_name = models.CharField(_("contact name"), max_length=100, blank=True)
    contact_phone = EncryptedCharField(_("contact phone"), max_length=20, null=True, blank=True)
    # Set on every save() / bulk_create() (BlindIndexField.pre_save): the queue's phone search
    # matches it, never the ciphertext. Rows from before it existed: migration 0008.
    contact_phone_bidx = BlindIndexField(_("contact phone (blind index)"), source="contact_phone",
                                         normalizer="phone", db_index=False)
    # The blind index (never the number) of an ID number the complainant gave on the online form:
    # with the phone's blind index it suggests the customer to link (complaints.matching).
    contact_id_number_bidx = models.CharField(_("ID number (blind index)"), max_length=64, blank=True,
                                              db_default="", editable=False)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="complaints")
    channel = models.CharField(_("channel"), max_length=10, choices=ComplaintChannel.choices)
    category = models.ForeignKey("complaints.ComplaintCategory", verbose_name=_("category"),
                                 on_delete=models.PROTECT, related_name="complaints")
    severity = models.CharField(_("severity"), max_length=10, choices=ComplaintSeverity.choices,
                                default=ComplaintSeverity.MEDIUM)
    product = models.ForeignKey("customers.Product", verbose_name=_("product"), null=True, blank=True,
                                on_delete=models.PROTECT, related_name="complaints")
    description = models.TextField(_("description"), max_length=4000)

    status = models.CharField(_("status"), max_length=16, choices=ComplaintStatus.choices,
                              default=ComplaintStatus.RECEIVED, editable=False)
    # Bumped by every change; a form or API call may send the version it saw (optimistic check).
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    received_at = models.DateTimeField(_("received at"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True, editable=False)
    first_resolved_at = models.DateTimeField(_("first resolved at"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, editable=False)
    # The clock the resolution deadline runs from: receipt, or the last reopening.
    resolution_clock_started_at = models.DateTimeField(_("resolution clock started at"), editable=False)

    sla_policy = models.ForeignKey("complaints.SlaPolicy", verbose_name=_("SLA policy"), on_delete=models.PROTECT,
                                   related_name="complaints", editable=False)
    sla_rule = models.ForeignKey("complaints.SlaRule", verbose_name=_("SLA rule"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="complaints", editable=False)
    first_response_due_at = models.DateTimeField(_("first response due"), editable=False)
    resolution_due_at = models.DateTimeField(_("resolution due"), editable=False)
    # The resolution deadline set at receipt; a reopening moves resolution_due_at, never this.
    original_resolution_due_at = models.DateTimeField(_("original resolution due"), null=True, blank=True,
                                                      editable=False)
    first_response_breached_at = models.DateTimeField(_("first response overdue flagged at"), null=True,
                                                      blank=True, editable=False)
    # Once set, a breach timestamp stays: a reopening restarts the clock but never erases a miss.
    resolution_breached_at = models.DateTimeField(_("resolution overdue flagged at"), null=True, blank=True,
                                                  editable=False)
    # The resolution_due_at the breach scan last flagged: each clock (the first, each reopening)
    # is flagged once, while resolution_breached_at keeps the first miss.
    resolution_flagged_due_at = models.DateTimeField(_("resolution deadline flagged"), null=True, blank=True,
                                                     editable=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, editable=False)

    resolution = models.TextField(_("resolution"), max_length=4000, blank=True)
    root_cause = models.CharField(_("root cause"), max_length=3, choices=RootCause.choices, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("times reopened"), default=0, editable=False)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("logged by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="complaints_logged")
    created_by_label = models.CharField(_("logged by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at", "-id"]
        indexes = [
            # The desk queue: open complaints by deadline, bank-wide and per branch.
            models.Index(fields=["resolution_due_at", "id"], condition=Q(status__in=_OPEN_STATUS_VALUES),
                         name="complaint_open_due_idx"),
            models.Index(fields=["branch", "resolution_due_at", "id"], condition=Q(status__in=_OPEN_STATUS_VALUES),
                         name="complaint_open_branch_due_idx"),
            # "Which of my customers have a complaint open" (the RM's dashboard, the 360 page): a probe
            # per customer into the open complaints only, answered from the index.
            models.Index(fields=["customer"], condition=Q(status__in=_OPEN_STATUS_VALUES, customer__isnull=False),
                         name="complaint_open_customer_idx"),
            # The breach scan: only rows whose clock still runs unflagged.
            models.Index(fields=["first_response_due_at"],
                         condition=Q(first_response_at__isnull=True, first_response_breached_at__isnull=True),
                         name="complaint_fr_unflagged_idx"),
            models.Index(fields=["resolution_due_at"], condition=Q(resolved_at__isnull=True),
                         name="complaint_res_running_idx"),
            # Hot spots and the closed part of the queue: by period, per branch.
            models.Index(fields=["received_at", "id"], name="complaint_received_idx"),
            models.Index(fields=["branch", "received_at"], name="complaint_branch_received_idx"),
            models.Index(fields=["customer", "-received_at"], name="complaint_customer_idx"),
            # The queue's search: complainant phone (exact, blind index) and walk-in name (contains;
            # icontains compiles to UPPER(col) LIKE UPPER(%s), hence the trigram index on UPPER).
            models.Index(fields=["contact_phone_bidx"], name="complaint_phone_bidx_idx"),
            GinIndex(OpClass(Upper("contact_name"), name="gin_trgm_ops"), name="complaint_contact_trgm_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(customer__isnull=False) | ~Q(contact_name=""),
                                   name="complaint_customer_or_contact"),
            models.CheckConstraint(condition=Q(first_response_at__isnull=True)
                                   | Q(first_response_at__gte=F("received_at")),
                                   name="complaint_first_response_after_received"),
            models.CheckConstraint(condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("received_at")),
                                   name="complaint_resolved_after_received"),
            models.CheckConstraint(condition=Q(first_response_due_at__gt=F("received_at"))
                                   & Q(resolution_due_at__gt=F("resolution_clock_started_at")),
                                   name="complaint_due_after_start"),
            models.CheckConstraint(
                condition=(Q(status__in=[ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED], resolved_at__isnull=False)
                           | (Q(status__in=_OPEN_STATUS_VALUES) & Q(resolved_at__isnull=True))),
                name="complaint_resolved_at_iff_resolved",
            ),
            models.CheckConstraint(condition=Q(status=ComplaintStatus.CLOSED, closed_at__isnull=False)
                                   | (~Q(status=ComplaintStatus.CLOSED) & Q(closed_at__isnull=True)),
                                   name="complaint_closed_at_iff_closed"),
        ]

    def __str__(self) -> str:
        return self.reference

    def get_absolute_url(self) -> str:
        return reverse("complaints:complaint-detail", args=[self.reference])

    @property
    def is_open(self) -> bool:
        return self.status in _OPEN_STATUS_VALUES

    @property
    def is_breached(self) -> bool:
        return self.first_response_breached_at is not None or self.resolution_breached_at is not None

    @property
    def complainant_name(self) -> str:
        if self.customer_id and self.customer:
            return self.customer.name
        return self.contact_name

    @property
    def masked_contact_phone(self) -> str:
        return masking.mask_phone(self.contact_phone)

    @property
    def created_by_display(self) -> str:
        """Who logged it, as people read it: the staff member's name, "the customer", "system"."""
        return actor_display(self.created_by, self.created_by_label)

    @property
    def resolution_met(self) -> bool:
        """Resolved within due, counting the original deadline too (see RESOLVED_ON_TIME)."""
        if self.resolved_at is None:
            return False
        first_resolved_at = self.first_resolved_at or self.resolved_at
        original_due_at = self.original_resolution_due_at or self.resolution_due_at
        return self.resolved_at < self.resolution_due_at and first_resolved_at < original_due_at

    def allowed_actions(self) -> list[str]:
        return actions_allowed_from(self.status)

    def running_clock(self) -> tuple[str, datetime, datetime] | None:
        """("first_response" | "resolution", started_at, due_at) of the clock that runs now, None when done."""
        if not self.is_open:
            return None
        if self.first_response_at is None:
            return "first_response", self.received_at, self.first_response_due_at
        return "resolution", self.resolution_clock_started_at, self.resolution_due_at

    def sla_state(self, *, now: datetime) -> SlaState:
        """The state of the running clock, or met / missed once resolved."""
        clock = self.running_clock()
        policy = self.sla_policy
        if clock is None:
            if self.resolved_at is None:
                return SlaState.MET
            return SlaState.MET if self.resolution_met else SlaState.MISSED
        _name, started_at, due_at = clock
        return sla_state_at(started_at=started_at, due_at=due_at, done_at=None, now=now,
                            warning_pct=policy.warning_pct, critical_pct=policy.critical_pct)

    def time_left(self, *, now: datetime) -> timedelta | None:
        clock = self.running_clock()
        return None if clock is None else clock[2] - now


def actor_display(user, label: str) -> str:
    """A staff member's full name (username when none is recorded); the stored label rendered in the
    reader's language for the customer and the system; an API key's label as stored."""
    if user is not None:
        return user.display_name
    return str(_ACTOR_LABELS[label]) if label in _ACTOR_LABELS else label


_ACTOR_LABELS = {"system": _("system (automatic)"), "customer": _("the customer"), "demo": _("demo data")}


class ComplaintEventKind(models.TextChoices):
    CREATED = "created", _("complaint received")
    ACKNOWLEDGED = "acknowledged", _("first response given")
    INVESTIGATING = "investigating", _("investigation started")
    ESCALATED = "escalated", _("escalated to the branch manager")
    RESOLVED = "resolved", _("resolved")
    CLOSED = "closed", pgettext_lazy("complaint event", "closed")
    REOPENED = "reopened", _("reopened")
    FIRST_RESPONSE_BREACHED = "first_response_breached", _("first response overdue")
    RESOLUTION_BREACHED = "resolution_breached", _("resolution overdue")
    CUSTOMER_LINKED = "customer_linked", _("customer identified")
    SURVEY_SENT = "survey_sent", _("satisfaction survey sent")
    SURVEY_FAILED = "survey_failed", _("satisfaction survey not sent")
    SURVEY_PENDING = "survey_pending", _("satisfaction survey waiting for the customer link")


class ComplaintEvent(models.Model):
    """One line of a complaint's timeline; transitions write one in the same transaction."""

    complaint = models.ForeignKey("complaints.Complaint", verbose_name=_("complaint"), on_delete=models.CASCADE,
                                  related_name="events")
    kind = models.CharField(_("kind"), max_length=24, choices=ComplaintEventKind.choices)
    from_status = models.CharField(_("from status"), max_length=16, choices=ComplaintStatus.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=16, choices=ComplaintStatus.choices, blank=True)
    occurred_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(_("by"), max_length=150,
                                   help_text=_("Username, api-key:<name>, customer or system."))
    note = models.TextField(_("note"), max_length=4000, blank=True, help_text=_("Staff only."))
    # What the complainant reads on the public progress page: the resolution given, or their
    # own reopening reason. Staff notes never go here.
    public_note = models.TextField(_("note for the customer"), max_length=4000, blank=True, db_default="")
    customer_visible = models.BooleanField(_("shown to the customer"), default=False)

    class Meta:
        verbose_name = _("complaint event")
        verbose_name_plural = _("complaint events")
        ordering = ["occurred_at", "id"]
        indexes = [models.Index(fields=["complaint", "occurred_at", "id"], name="complaint_event_idx")]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind}"

    @property
    def actor_display(self) -> str:
        return actor_display(self.actor, self.actor_label)


class ComplaintAttachment(models.Model):
    complaint = models.ForeignKey("complaints.Complaint", verbose_name=_("complaint"), on_delete=models.CASCADE,
                                  related_name="attachments")
    file = models.FileField(_("file"), upload_to="complaints/%Y/%m/")
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size_bytes = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_at = models.DateTimeField(_("uploaded at"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class ComplaintUserObjectPermission(SharedRecordPermissionBase):
    """guardian's direct-FK table for complaints: one row per share in force (accounts.RecordShare)."""

    content_object = models.ForeignKey("complaints.Complaint", verbose_name=_("complaint"), on_delete=models.CASCADE,
                                       related_name="user_object_permissions")

    class Meta(SharedRecordPermissionBase.Meta):
        verbose_name = _("complaint share permission")
        verbose_name_plural = _("complaint share permissions")
        indexes = [
            models.Index(fields=["user", "ends_on", "content_object"], name="complaint_share_perm_scope"),
        ]


class ComplaintGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct-FK group table for complaints (records are shared with people, so unused today)."""

    content_object = models.ForeignKey("complaints.Complaint", verbose_name=_("complaint"), on_delete=models.CASCADE,
                                       related_name="group_object_permissions")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("complaint group permission")
        verbose_name_plural = _("complaint group permissions")
