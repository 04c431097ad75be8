from __future__ import annotations

from datetime import date

from django.contrib.auth.models import AbstractUser
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from guardian.models import UserObjectPermissionBase


class Role(models.TextChoices):
    """Staff roles. Each is a Django group of the same name, created by a data migration."""

    RELATIONSHIP_MANAGER = "relationship_manager", _("relationship manager")
    BRANCH_MANAGER = "branch_manager", _("branch manager")
    COMPLAINT_DESK = "complaint_desk", _("complaint desk")
    COMPLIANCE_AUDITOR = "compliance_auditor", _("compliance auditor")
    ADMIN = "admin", _("administrator")


class Branch(models.Model):
    """A bank office: the head office at the top, branches (and sub-branches) below it."""

    code = models.CharField(_("branch code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.CharField(_("region"), max_length=100, blank=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    is_head_office = models.BooleanField(_("head office"), default=False)

    class Meta:
        verbose_name = _("branch")
        verbose_name_plural = _("branches")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=~Q(parent=F("pk")), name="branch_not_own_parent"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class User(AbstractUser):
    """A member of staff; belongs to one branch and holds roles through groups."""

    staff_number = models.CharField(_("staff number"), max_length=20, unique=True, null=True, blank=True)
    branch = models.ForeignKey(
        "accounts.Branch", verbose_name=_("branch"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="staff",
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        ordering = ["username"]

    def get_full_name(self) -> str:
        """Chinese names read family name first, with no space (张伟); others "first last"."""
        family, given = self.last_name.strip(), self.first_name.strip()
        if family and given and all("\u4e00" <= character <= "\u9fff" for character in family + given):
            return f"{family}{given}"
        return super().get_full_name()

    @property
    def display_name(self) -> str:
        """How staff are named on every page and export: the full name, the login when none is recorded."""
        return self.get_full_name() or self.username

    def role_names(self) -> frozenset[str]:
        """Names of this user's role groups, cached on the instance for the request."""
        cached = getattr(self, "_role_names", None)
        if cached is None:
            cached = frozenset(self.groups.values_list("name", flat=True)) if self.pk else frozenset()
            self._role_names = cached
        return cached

    def has_role(self, role: Role) -> bool:
        return self.is_active and role.value in self.role_names()

    def role_labels(self) -> list[str]:
        """Translated labels of this user's roles, in the order Role declares them."""
        names = self.role_names()
        return [str(role.label) for role in Role if role.value in names]


class DelegationReason(models.TextChoices):
    LEAVE = "leave", _("leave")
    TRAINING = "training", _("training")
    OTHER = "other", _("other")


class DelegationStatus(models.TextChoices):
    """Derived from the dates and revocation on a given day; never stored."""

    SCHEDULED = "scheduled", _("scheduled")
    ACTIVE = "active", pgettext_lazy("delegation status", "active")
    EXPIRED = "expired", _("expired")
    REVOKED = "revoked", _("revoked")


class DelegationQuerySet(models.QuerySet):
    def not_revoked(self) -> DelegationQuerySet:
        return self.filter(revoked_at__isnull=True)

    def active(self, on: date | None = None) -> DelegationQuerySet:
        """Delegations in force on ``on`` (default: today, local time). Expiry needs no job."""
        on = on or timezone.localdate()
        return self.not_revoked().filter(starts_on__lte=on, ends_on__gte=on)

    def overlapping(self, *, starts_on: date, ends_on: date) -> DelegationQuerySet:
        """Delegations whose inclusive date range shares at least one day with [starts_on, ends_on]."""
        return self.filter(starts_on__lte=ends_on, ends_on__gte=starts_on)


class Delegation(models.Model):
    """An RM names a backup RM who may act for their customers over an inclusive date range.

    Access follows these rows directly (``selectors.relationship_manager_ids_acting_for``);
    no model-wide permission is ever granted, so a delegate sees the delegator's customers and
    nobody else's, and only while the delegation is active.
    """

    # Longest single delegation; a longer absence means reassigning customers, not delegating.
    MAX_DAYS = 90

    delegator = models.ForeignKey(
        "accounts.User", verbose_name=_("relationship manager"), on_delete=models.PROTECT,
        related_name="delegations_given",
    )
    delegate = models.ForeignKey(
        "accounts.User", verbose_name=_("backup relationship manager"), on_delete=models.PROTECT,
        related_name="delegations_received",
    )
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    reason = models.CharField(_("reason"), max_length=20, choices=DelegationReason.choices)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", verbose_name=_("created by"), on_delete=models.PROTECT,
        related_name="delegations_created",
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", verbose_name=_("revoked by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="delegations_revoked",
    )

    objects = DelegationQuerySet.as_manager()

    class Meta:
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="delegation_ends_after_start"
            ),
            models.CheckConstraint(condition=~Q(delegate=F("delegator")), name="delegation_not_to_self"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="delegation_revoked_at_and_by_together",
            ),
        ]
        indexes = [
            # Customer scoping asks "who delegated to me today?" on every list page.
            models.Index(
                fields=["delegate", "starts_on", "ends_on"], condition=Q(revoked_at__isnull=True),
                name="delegation_open_by_delegate",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.delegator} → {self.delegate} ({self.starts_on}..{self.ends_on})"

    @property
    def days(self) -> int:
        """Length in days, both ends included."""
        return (self.ends_on - self.starts_on).days + 1

    def status_on(self, on: date) -> DelegationStatus:
        if self.revoked_at is not None:
            return DelegationStatus.REVOKED
        if on < self.starts_on:
            return DelegationStatus.SCHEDULED
        if on > self.ends_on:
            return DelegationStatus.EXPIRED
        return DelegationStatus.ACTIVE

    @property
    def status(self) -> DelegationStatus:
        return self.status_on(timezone.localdate())


class ApiScope(models.TextChoices):
    """Closed set of API-key scopes; later issues add theirs here so admin, command and schema list one set."""

    CUSTOMERS_READ = "customers:read", _("read customers")
    CUSTOMERS_WRITE = "customers:write", _("create and update customers")
    CUSTOMERS_REVEAL = "customers:reveal", _("see unmasked customer PII")
    TRANSACTIONS_WRITE = "transactions:write", _("ingest transactions")
    HOLDINGS_WRITE = "holdings:write", _("write holdings")
    INTERACTIONS_WRITE = "interactions:write", _("record interactions")
    PRODUCTS_READ = "products:read", _("read products")
    PRODUCTS_WRITE = "products:write", _("write products")
    SEGMENTS_READ = "segments:read", _("read classes, tiers, CLV and recommendations")
    COMPLAINTS_READ = "complaints:read", _("read complaints and their status")
    COMPLAINTS_WRITE = "complaints:write", _("log complaints and move them through their states")
    SURVEYS_READ = "surveys:read", _("read survey responses")
    SERVICE_READ = "service:read", _("read service records")
    SERVICE_WRITE = "service:write", _("record services")
    KPIS_READ = "kpis:read", _("read KPI definitions and snapshots")
    REPORTS_READ = "reports:read", _("read and download periodic reports")
    LIFECYCLE_READ = "lifecycle:read", _("read lifecycle stages, churn scores and their reasons")
    RETENTION_READ = "retention:read", _("read retention tasks")
    RETENTION_WRITE = "retention:write", _("record the outcome of retention tasks")
    TRAINING_READ = "training:read", _("read training records and scores")
    IMPROVEMENT_READ = "improvement:read", _("read improvement initiatives and RM scorecards")


class ApiKeyQuerySet(models.QuerySet):
    def usable(self, *, now=None) -> ApiKeyQuerySet:
        """Keys that authenticate now: not revoked and not expired."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))


class ApiKey(models.Model):
    """A credential for another bank system. The key itself is never stored, only its sha256.

    The key is ``crm_<prefix>_<secret>``; ``prefix`` finds the row, ``key_hash`` proves the key.
    A plain sha256 (not a slow password hash) is enough here: the secret is 32 random bytes, so
    there is nothing to brute-force from a leaked hash, and every API call must verify it quickly.
    """

    PREFIX_LENGTH = 8

    name = models.CharField(_("name"), max_length=100, unique=True, help_text=_("The system that uses this key."))
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    scopes = ArrayField(
        models.CharField(max_length=40, choices=ApiScope.choices), verbose_name=_("scopes"), default=list,
    )
    branch = models.ForeignKey(
        "accounts.Branch", verbose_name=_("branch"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="api_keys", help_text=_("Limit the key to one branch; empty means the whole bank."),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        "accounts.User", verbose_name=_("created by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="api_keys_created", help_text=_("Empty when created with manage.py create_api_key."),
    )
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    def is_usable_at(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class ApiClient:
    """The principal of a request made with an API key (``request.user``); not a table.

    It answers the questions code asks of ``request.user`` the way an outsider should: no
    roles, not staff, no primary key. ``audit_label`` names it in the audit log and
    ``principal_id`` keys idempotency records and throttles (core reads both by name).
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key
        self.scopes = frozenset(api_key.scopes)

    def __str__(self) -> str:
        return self.audit_label

    @property
    def name(self) -> str:
        return self.api_key.name

    @property
    def branch_id(self) -> int | None:
        return self.api_key.branch_id

    @property
    def audit_label(self) -> str:
        return f"api-key:{self.api_key.name}"

    @property
    def principal_id(self) -> str:
        return f"api-key:{self.api_key.pk}"

    def get_username(self) -> str:
        return self.audit_label

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def has_role(self, role: Role) -> bool:
        return False

    def role_names(self) -> frozenset[str]:
        return frozenset()

    def has_perm(self, perm: str, obj=None) -> bool:
        return False


class RevealBudgetPolicy(models.Model):
    """How many PII fields one member of staff may reveal per hour (issue 16, finding 10).

    Versioned policy data like every business number: a change is a new version, effective from a
    moment; refusals name the version that applied. Version 1 (30 an hour) comes with migration 0006.
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    reveals_per_hour = models.PositiveIntegerField(_("reveals per hour"))
    effective_from = models.DateTimeField(_("effective from"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("reveal budget policy")
        verbose_name_plural = _("reveal budget policies")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}: {self.reveals_per_hour}/h"


class RecordShareQuerySet(models.QuerySet):
    def active(self, on: date | None = None) -> RecordShareQuerySet:
        """Shares in force on ``on`` (default: today, local time): not revoked, last day not passed."""
        on = on or timezone.localdate()
        return self.filter(revoked_at__isnull=True, ends_on__gte=on)


class RecordShare(models.Model):
    """One record (a customer, a complaint) shared by its owner with a named colleague until a day.

    The grant record: who shared what with whom, why, until when, and who ended it. Access itself
    follows the record's direct-FK guardian table (``CustomerUserObjectPermission``,
    ``ComplaintUserObjectPermission``), which holds one row per share in force and is what
    ``accounts.scope`` reads; this row stays as the history after a revoke.
    """

    # Longest single share; longer help means reassigning the record, not sharing it.
    MAX_DAYS = 30

    content_type = models.ForeignKey(
        "contenttypes.ContentType", verbose_name=_("record type"), on_delete=models.PROTECT, related_name="+",
    )
    object_id = models.BigIntegerField(_("record id"))
    record = GenericForeignKey("content_type", "object_id")
    shared_with = models.ForeignKey(
        "accounts.User", verbose_name=_("shared with"), on_delete=models.PROTECT, related_name="shares_received",
    )
    shared_by = models.ForeignKey(
        "accounts.User", verbose_name=_("shared by"), on_delete=models.PROTECT, related_name="shares_given",
    )
    reason = models.CharField(_("reason"), max_length=500)
    ends_on = models.DateField(_("last day"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        "accounts.User", verbose_name=_("revoked by"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="shares_revoked",
    )

    objects = RecordShareQuerySet.as_manager()

    class Meta:
        verbose_name = _("record share")
        verbose_name_plural = _("record shares")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(shared_with=F("shared_by")), name="record_share_not_to_self"),
            models.CheckConstraint(condition=~Q(reason=""), name="record_share_reason_required"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="record_share_revoked_at_and_by_together",
            ),
        ]
        indexes = [
            models.Index(fields=["content_type", "object_id"], condition=Q(revoked_at__isnull=True),
                         name="record_share_open_by_record"),
            models.Index(fields=["shared_with", "ends_on"], condition=Q(revoked_at__isnull=True),
                         name="record_share_open_by_colleague"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} → {self.shared_with_id} (..{self.ends_on})"

    @property
    def record_kind(self) -> str:
        """What was shared, in words ("customer", "complaint")."""
        model = self.content_type.model_class()
        return model._meta.verbose_name if model else self.content_type.model


class SharedRecordPermissionBase(UserObjectPermissionBase):
    """A guardian direct-FK user permission row that exists while one ``RecordShare`` is in force.

    Subclasses add ``content_object = ForeignKey(<record>)`` (guardian's fast path: the grant is a
    plain foreign key, no content-type join). ``ends_on`` copies the share's last day so the scope
    subquery reads this one table; a revoke deletes the row.
    """

    share = models.OneToOneField(
        "accounts.RecordShare", verbose_name=_("record share"), on_delete=models.CASCADE, related_name="+",
    )
    ends_on = models.DateField(_("last day"))

    class Meta(UserObjectPermissionBase.Meta):
        abstract = True
