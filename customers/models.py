"""Customer information (MANUAL 2.2, 2.3): the four kinds of information, products, holdings,
transactions, interactions and data-quality issues."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from guardian.models import GroupObjectPermissionBase

from accounts.models import SharedRecordPermissionBase
from core import masking
from core.fields import BlindIndexField, EncryptedCharField
from customers.completeness import completeness_score_sql

MONEY = {"max_digits": 18, "decimal_places": 2}


class Gender(models.TextChoices):
    MALE = "male", _("male")
    FEMALE = "female", _("female")
    UNKNOWN = "unknown", _("unknown")


class CustomerStatus(models.TextChoices):
    ACTIVE = "active", pgettext_lazy("customer status", "active")
    CLOSED = "closed", pgettext_lazy("customer status", "closed")


class CreditRating(models.TextChoices):
    AAA = "AAA", "AAA"
    AA = "AA", "AA"
    A = "A", "A"
    BBB = "BBB", "BBB"
    BB = "BB", "BB"
    B = "B", "B"
    C = "C", "C"


CREDIT_SCORE_MIN, CREDIT_SCORE_MAX = 300, 850


class CreditGradePolicy(models.Model):
    """Which credit grade a numeric score falls in: versioned policy data, never edited in place.

    ``bands`` is a list of [lowest, highest, grade], both ends inclusive, covering 300-850 with
    no gap or overlap (checked by customers.rules.credit_grade_bands_check).
    """

    version = models.PositiveIntegerField(_("version"), unique=True)
    bands = models.JSONField(_("grade bands"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("credit grade policy")
        verbose_name_plural = _("credit grade policies")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"

    def grade_for(self, score: int) -> str:
        for lowest, highest, grade in self.bands:
            if lowest <= score <= highest:
                return grade
        return ""


class RiskLevel(models.TextChoices):
    """Risk tolerance of a customer and risk level of a product, on the regulator's R1-R5 scale."""

    R1 = "R1", _("R1 conservative")
    R2 = "R2", _("R2 cautious")
    R3 = "R3", _("R3 balanced")
    R4 = "R4", _("R4 growth")
    R5 = "R5", _("R5 aggressive")


class ConsentState(models.TextChoices):
    GIVEN = "given", pgettext_lazy("consent", "given")
    WITHDRAWN = "withdrawn", pgettext_lazy("consent", "withdrawn")
    UNKNOWN = "unknown", _("not recorded")


class Channel(models.TextChoices):
    BRANCH = "branch", _("branch counter")
    PHONE = "phone", _("phone")
    ONLINE = "online", _("online banking")
    MOBILE = "mobile", _("mobile app")
    ATM = "atm", _("self-service machine")
    POS = "pos", _("card terminal")


class CustomerQuerySet(models.QuerySet):
    def active(self) -> CustomerQuerySet:
        return self.filter(status=CustomerStatus.ACTIVE)

    def managed_by(self, relationship_manager_ids: list[int]) -> CustomerQuerySet:
        return self.filter(relationship_manager_id__in=relationship_manager_ids)

    def for_listing(self) -> CustomerQuerySet:
        """Leave out the PII a list never shows (it shows the masked phone): no decrypting it per row."""
        return self.defer("id_number", "email", "address", "id_number_bidx", "phone_bidx")


class Customer(models.Model):
    """A bank customer. PII (ID number, phone, email, address) is encrypted; search via blind indexes."""

    # The encrypted personal fields: masked on every screen, revealed only through an audited service.
    PII_FIELDS = ("id_number", "phone", "email", "address")

    # Basic information
    external_id = models.CharField(_("customer number"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    gender = models.CharField(_("gender"), max_length=10, choices=Gender.choices, default=Gender.UNKNOWN)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    occupation = models.CharField(_("occupation"), max_length=100, blank=True)
    id_number = EncryptedCharField(_("national ID number"), max_length=18, null=True, blank=True)
    # Indexed in Meta: a plain db_index on a varchar also builds a useless LIKE (pattern_ops)
    # index, and a blind index is only ever compared for equality.
    id_number_bidx = BlindIndexField(source="id_number", normalizer="id_number", db_index=False)
    phone = EncryptedCharField(_("mobile phone"), max_length=20, null=True, blank=True)
    phone_bidx = BlindIndexField(source="phone", normalizer="phone", db_index=False)
    email = EncryptedCharField(_("email"), max_length=254, null=True, blank=True)
    address = EncryptedCharField(_("address"), max_length=300, null=True, blank=True)

    branch = models.ForeignKey(
        "accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT, related_name="customers",
        db_index=False,  # customer_branch_idx starts with branch_id
    )
    relationship_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="managed_customers",
        db_index=False,  # customer_rm_name_idx starts with relationship_manager_id
    )
    region = models.CharField(_("region"), max_length=50, blank=True)
    customer_since = models.DateField(_("customer since"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=CustomerStatus.choices,
                              default=CustomerStatus.ACTIVE)
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    closed_reason = models.CharField(_("reason for closing"), max_length=200, blank=True)

    # Financial information (CNY)
    total_assets = models.DecimalField(_("total assets (AUM)"), **MONEY, null=True, blank=True)
    liabilities = models.DecimalField(_("liabilities"), **MONEY, null=True, blank=True)
    annual_income = models.DecimalField(_("annual income"), **MONEY, null=True, blank=True)

    # Risk information. A numeric score (core banking's 300-850) derives the grade through the
    # credit grade policy in force, stamped on the customer; a grade may also be given directly.
    credit_rating = models.CharField(_("credit rating"), max_length=3, choices=CreditRating.choices, blank=True)
    credit_score = models.PositiveSmallIntegerField(
        _("credit score"), null=True, blank=True,
        validators=[MinValueValidator(CREDIT_SCORE_MIN), MaxValueValidator(CREDIT_SCORE_MAX)],
    )
    credit_grade_policy = models.ForeignKey(
        "customers.CreditGradePolicy", verbose_name=_("credit grade policy"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    risk_tolerance = models.CharField(_("risk tolerance"), max_length=2, choices=RiskLevel.choices, blank=True)

    # Consent (PIPL): data processing and marketing, each with date and channel
    consent_data_processing = models.CharField(_("consent to data processing"), max_length=10,
                                               choices=ConsentState.choices, default=ConsentState.UNKNOWN)
    consent_data_processing_at = models.DateTimeField(_("data processing consent recorded at"),
                                                      null=True, blank=True)
    consent_marketing = models.CharField(_("consent to marketing"), max_length=10,
                                         choices=ConsentState.choices, default=ConsentState.UNKNOWN)
    consent_marketing_at = models.DateTimeField(_("marketing consent recorded at"), null=True, blank=True)
    consent_channel = models.CharField(_("consent channel"), max_length=10, choices=Channel.choices, blank=True)

    # Behaviour / service preference
    preferred_channel = models.CharField(_("preferred channel"), max_length=10, choices=Channel.choices,
                                         blank=True)

    info_updated_at = models.DateTimeField(_("information last updated"), null=True, blank=True)
    # Computed by PostgreSQL on every insert and update from the completeness rule (customers.completeness):
    # always current, and the data-quality pass never rewrites a customer row to store it.
    completeness_score = models.GeneratedField(
        expression=RawSQL(completeness_score_sql(), []),  # noqa: S611 (the rule's constant SQL, no input)
        output_field=models.PositiveSmallIntegerField(),
        db_persist=True, verbose_name=_("completeness score"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["relationship_manager", "name", "id"], name="customer_rm_name_idx"),
            models.Index(fields=["branch", "status", "name", "id"], name="customer_branch_idx"),
            # Rows that belong to a customer (churn scores, retention tasks) are scoped by the customer's
            # branch and RM: a few thousand of them check their customers here, index only, instead of
            # reading the wide customer rows (the branch manager's home tile at 1M: its two counts
            # 50 + 40 ms -> 9 + 6 ms, bench/README).
            models.Index(fields=["id"], include=["branch", "relationship_manager"], name="customer_scope_idx"),
            # The API's incremental sync (?updated_since=): without it a recent cutoff scans every row.
            models.Index(fields=["updated_at"], name="customer_updated_at_idx"),
            models.Index(fields=["id_number_bidx"], name="customer_id_number_bidx_idx"),
            models.Index(fields=["phone_bidx"], name="customer_phone_bidx_idx"),
            # Name search (icontains) and customer-number prefix search (istartswith): Django
            # compiles both to UPPER(col::text) LIKE UPPER(%s), so the trigram index is on
            # UPPER(col); a plain gin_trgm_ops index on the bare column would never be used.
            GinIndex(
                OpClass(Upper("name"), name="gin_trgm_ops"),
                OpClass(Upper("external_id"), name="gin_trgm_ops"),
                name="customer_search_trgm_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status=CustomerStatus.CLOSED, closed_on__isnull=False)
                           | Q(status=CustomerStatus.ACTIVE, closed_on__isnull=True)),
                name="customer_closed_on_iff_closed",
            ),
            models.CheckConstraint(condition=Q(completeness_score__lte=100), name="customer_completeness_le_100"),
            models.CheckConstraint(
                condition=Q(credit_score__isnull=True)
                | Q(credit_score__gte=CREDIT_SCORE_MIN, credit_score__lte=CREDIT_SCORE_MAX),
                name="customer_credit_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} {masking.mask_name(self.name)}"

    def get_absolute_url(self) -> str:
        return reverse("customers:customer-detail", args=[self.pk])

    @property
    def masked_id_number(self) -> str:
        return masking.mask_id_number(self.id_number)

    @property
    def masked_phone(self) -> str:
        return masking.mask_phone(self.phone)

    @property
    def masked_email(self) -> str:
        return masking.mask_email(self.email)

    @property
    def masked_address(self) -> str:
        return masking.mask_address(self.address)


class ProductCategory(models.TextChoices):
    DEPOSIT = "deposit", _("deposit")
    WEALTH = "wealth", _("wealth management")
    LOAN = "loan", _("loan")
    CARD = "card", _("card")
    INSURANCE = "insurance", _("insurance")


class Product(models.Model):
    code = models.CharField(_("product code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=100)
    category = models.CharField(_("category"), max_length=12, choices=ProductCategory.choices)
    risk_level = models.CharField(_("product risk level"), max_length=2, choices=RiskLevel.choices)
    is_active = models.BooleanField(_("on sale"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["category", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Holding(models.Model):
    """A product a customer holds (or held): an account, a wealth product, a loan, a card, a policy."""

    external_ref = models.CharField(_("external reference"), max_length=64, unique=True, null=True, blank=True)
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="holdings")
    product = models.ForeignKey("customers.Product", verbose_name=_("product"), on_delete=models.PROTECT,
                                related_name="holdings")
    balance = models.DecimalField(_("balance"), **MONEY, default=Decimal("0"))
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("holding")
        verbose_name_plural = _("holdings")
        ordering = ["-opened_on", "id"]
        indexes = [models.Index(fields=["customer", "closed_on"], name="holding_customer_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(closed_on__isnull=True) | Q(closed_on__gte=F("opened_on")),
                                   name="holding_closed_after_opened"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} x {self.product_id}"


class TransactionDirection(models.TextChoices):
    IN = "in", _("in")
    OUT = "out", _("out")


class TransactionType(models.TextChoices):
    DEPOSIT = "deposit", pgettext_lazy("transaction type", "deposit")
    WITHDRAWAL = "withdrawal", _("withdrawal")
    TRANSFER = "transfer", _("transfer")
    PAYMENT = "payment", _("payment")
    PURCHASE = "purchase", _("product purchase")
    REDEMPTION = "redemption", _("redemption")
    REPAYMENT = "repayment", _("loan repayment")


class Transaction(models.Model):
    """A core-banking transaction. Expect 10^8 rows: read per customer and time range only."""

    # Unique through a constraint, not unique=True, which would add a second (LIKE) index on 10^8 rows.
    external_ref = models.CharField(_("external reference"), max_length=64)
    # No separate FK index: txn_customer_time_idx (customer, -occurred_at) serves customer lookups.
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="transactions", db_index=False)
    occurred_at = models.DateTimeField(_("time"))
    amount = models.DecimalField(_("amount (CNY)"), **MONEY)
    direction = models.CharField(_("direction"), max_length=3, choices=TransactionDirection.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    type = models.CharField(_("type"), max_length=12, choices=TransactionType.choices)

    class Meta:
        verbose_name = _("transaction")
        verbose_name_plural = _("transactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="txn_customer_time_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transaction_amount_positive"),
            models.UniqueConstraint(fields=["external_ref"], name="transaction_external_ref_unique"),
        ]

    def __str__(self) -> str:
        return self.external_ref


class InteractionKind(models.TextChoices):
    VISIT = "visit", _("visit")
    CALL = "call", _("phone call")
    ONLINE = "online", _("online contact")
    EVENT = "event", _("event")


class InteractionOutcome(models.TextChoices):
    INFORMED = "informed", _("informed / advised")
    INTERESTED = "interested", _("interested, follow up")
    PRODUCT_SOLD = "product_sold", _("product taken up")
    NOT_INTERESTED = "not_interested", _("not interested")
    UNREACHABLE = "unreachable", _("could not reach")
    ISSUE_RAISED = "issue_raised", _("customer raised an issue")


class Interaction(models.Model):
    """A contact with the customer: a visit, a call, an online contact or an event."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="interactions")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True,
                              on_delete=models.SET_NULL, related_name="interactions")
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    occurred_at = models.DateTimeField(_("time"))
    summary = models.TextField(_("summary"), max_length=2000)
    outcome = models.CharField(_("outcome"), max_length=16, choices=InteractionOutcome.choices)
    next_step = models.CharField(_("next step"), max_length=300, blank=True)
    next_step_due_on = models.DateField(_("next step due"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="interaction_customer_idx"),
            # The RM's home dashboard lists next steps due in a window of days (evaluation.views._rm_work):
            # without it that read scans every interaction.
            models.Index(fields=["next_step_due_on"], name="interaction_next_step_due_idx",
                         condition=Q(next_step_due_on__isnull=False) & ~Q(next_step="")),
            # One RM's next steps: their customers' rows by due day, not the whole bank's window filtered
            # down (428 ms for rm1's dashboard at 1M customers before, bench/evaluation_bench.py).
            models.Index(fields=["customer", "next_step_due_on"], name="interaction_customer_next_idx",
                         condition=Q(next_step_due_on__isnull=False) & ~Q(next_step="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class DataQualityRule(models.TextChoices):
    """MANUAL 2.2: completeness, timeliness, accuracy."""

    MISSING_BASIC = "missing_basic", _("basic information incomplete")
    MISSING_FINANCIAL = "missing_financial", _("financial information incomplete")
    MISSING_BEHAVIOUR = "missing_behaviour", _("behaviour information incomplete")
    MISSING_RISK = "missing_risk", _("risk information incomplete")
    STALE = "stale", _("information out of date")
    ASSETS_MISMATCH = "assets_mismatch", _("declared assets differ from holdings")
    PHONE_FORMAT = "phone_format", _("mobile phone format invalid")
    ID_CHECK_DIGIT = "id_check_digit", _("ID number check digit invalid")
    ID_BIRTH_DATE = "id_birth_date", _("ID number disagrees with birth date")


class DataQualityPolicy(models.Model):
    """The configurable numbers of the data-quality pass; a change is a new version (STYLE §5)."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    stale_after_days = models.PositiveIntegerField(_("stale after (days)"), default=365)
    assets_tolerance_pct = models.DecimalField(
        _("assets tolerance (%)"), max_digits=5, decimal_places=2, default=Decimal("10.00"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        verbose_name = _("data-quality policy")
        verbose_name_plural = _("data-quality policies")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"


class DataQualityIssueStatus(models.TextChoices):
    OPEN = "open", _("open")
    RESOLVED = "resolved", _("resolved")


class DataQualityIssue(models.Model):
    """A defect found by the data-quality pass; it closes itself when a later pass no longer finds it."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="data_quality_issues")
    rule = models.CharField(_("rule"), max_length=20, choices=DataQualityRule.choices)
    status = models.CharField(_("status"), max_length=10, choices=DataQualityIssueStatus.choices,
                              default=DataQualityIssueStatus.OPEN)
    detail = models.CharField(_("detail"), max_length=200, blank=True)  # field names and figures, never PII
    policy = models.ForeignKey("customers.DataQualityPolicy", verbose_name=_("policy version"),
                               null=True, on_delete=models.PROTECT, related_name="issues")
    opened_at = models.DateTimeField(_("opened at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    # Stewardship (customers.stewardship): who fixes it, who has seen it, and a waiver that expires.
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned to"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="data_quality_issues")
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("acknowledged by"), null=True,
                                        blank=True, on_delete=models.SET_NULL, related_name="+")
    waived_until = models.DateField(_("waived until"), null=True, blank=True)
    # db_default: the data-quality pass inserts issues in SQL and names only the columns it knows.
    waiver_reason = models.CharField(_("reason for the waiver"), max_length=300, blank=True, db_default="")
    waived_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("waived by"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("data quality issue")
        verbose_name_plural = _("data quality issues")
        ordering = ["-opened_at", "id"]
        indexes = [
            models.Index(fields=["status", "rule"], name="dq_status_rule_idx"),
            models.Index(fields=["customer", "status"], name="dq_customer_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["customer", "rule"], condition=Q(status="open"),
                                    name="dq_one_open_issue_per_rule"),
            models.CheckConstraint(
                condition=(Q(status="open", resolved_at__isnull=True)
                           | Q(status="resolved", resolved_at__isnull=False)),
                name="dq_resolved_at_iff_resolved",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.rule}"

    @property
    def detail_text(self) -> str:
        """The stored code and figures as a sentence in the reader's language."""
        from customers.data_quality_details import detail_text

        return detail_text(self.detail)


class ImportJobStatus(models.TextChoices):
    QUEUED = "queued", _("queued")
    RUNNING = "running", _("running")
    DONE = "done", _("done")
    FAILED = "failed", _("failed")


class ImportJob(models.Model):
    """An upload of a core-banking export, imported by a Celery task; progress and counts as it goes.

    Status moves queued -> running -> done | failed, only through customers.services.
    """

    TRANSITIONS = {
        ImportJobStatus.QUEUED: {ImportJobStatus.RUNNING},
        ImportJobStatus.RUNNING: {ImportJobStatus.DONE, ImportJobStatus.FAILED},
    }

    class Kind(models.TextChoices):
        CUSTOMERS = "customers", _("customers")
        HOLDINGS = "holdings", _("holdings")
        TRANSACTIONS = "transactions", _("transactions")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    source_file = models.FileField(_("file"), upload_to="imports/")
    mapping = models.CharField(_("mapping"), max_length=100)
    status = models.CharField(_("status"), max_length=10, choices=ImportJobStatus.choices,
                              default=ImportJobStatus.QUEUED)
    rows_read = models.PositiveIntegerField(_("rows read"), default=0)
    rows_created = models.PositiveIntegerField(_("created"), default=0)
    rows_updated = models.PositiveIntegerField(_("updated"), default=0)
    rows_unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    rows_rejected = models.PositiveIntegerField(_("rejected"), default=0)
    bytes_read = models.PositiveBigIntegerField(_("bytes read"), default=0)
    bytes_total = models.PositiveBigIntegerField(_("file size (bytes)"), default=0)
    report_file = models.FileField(_("error report"), upload_to="imports/reports/", blank=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True,
                                   on_delete=models.SET_NULL, related_name="import_jobs")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_read=F("rows_created") + F("rows_updated") + F("rows_unchanged")
                            + F("rows_rejected")),
                name="import_job_rows_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED)

    @property
    def progress_percent(self) -> int:
        if self.status == ImportJobStatus.DONE:
            return 100
        return int(100 * self.bytes_read / self.bytes_total) if self.bytes_total else 0


# --- Custom attributes (issue 11) ---------------------------------------------------------------


class CustomAttributeType(models.TextChoices):
    NUMBER = "number", _("number")
    TEXT = "text", _("text")
    DATE = "date", _("date")
    CHOICE = "choice", _("choice")


class CustomAttribute(models.Model):
    """A piece of customer information a bank's export carries and the CRM has no column for.

    Declared by an admin (no migration): an import mapping may send a column to it
    (``"field": "attr:<code>"``), values are checked by type, shown on the customer page, and
    filterable on the list and in the API. Later jobs (churn features) read them by code.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    type = models.CharField(_("type"), max_length=10, choices=CustomAttributeType.choices)
    unit = models.CharField(_("unit"), max_length=20, blank=True)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    label_en = models.CharField(_("label (English)"), max_length=100)
    choices = models.JSONField(_("choices"), default=list, blank=True,
                               help_text=_("For a choice attribute: the allowed codes."))
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("custom attribute")
        verbose_name_plural = _("custom attributes")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code

    @property
    def label(self) -> str:
        from django.utils.translation import get_language

        return self.label_zh if (get_language() or "").startswith("zh") else self.label_en


class CustomerAttributeValue(models.Model):
    """One customer's value of one custom attribute, in the column of its type.

    A typed side table: a filter on one attribute is an index scan on (attribute, value_*),
    whatever the number of customers (EXPLAIN in tests/customers/test_custom_attributes.py).
    """

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="attribute_values", db_index=False)
    attribute = models.ForeignKey(CustomAttribute, verbose_name=_("attribute"), on_delete=models.PROTECT,
                                  related_name="values", db_index=False)
    value_number = models.DecimalField(_("number"), max_digits=20, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(_("text"), max_length=200, blank=True)
    value_date = models.DateField(_("date"), null=True, blank=True)

    class Meta:
        verbose_name = _("custom attribute value")
        verbose_name_plural = _("custom attribute values")
        constraints = [
            models.UniqueConstraint(fields=["customer", "attribute"], name="customer_attribute_value_unique"),
        ]
        indexes = [
            models.Index(fields=["attribute", "value_number", "customer"], name="attr_value_number_idx"),
            models.Index(fields=["attribute", "value_text", "customer"], name="attr_value_text_idx"),
            models.Index(fields=["attribute", "value_date", "customer"], name="attr_value_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.attribute_id}"

    @property
    def value(self):
        kind = self.attribute.type
        if kind == CustomAttributeType.NUMBER:
            return self.value_number
        if kind == CustomAttributeType.DATE:
            return self.value_date
        return self.value_text
class ConsentPurpose(models.TextChoices):
    """PIPL: each purpose needs its own consent."""

    DATA_PROCESSING = "data_processing", _("data processing")
    MARKETING = "marketing", _("marketing")


class ContactChannel(models.TextChoices):
    """The channels a consent covers (how the bank may contact or process for that purpose)."""

    SMS = "sms", _("SMS")
    PHONE = "phone", _("phone call")
    EMAIL = "email", _("email")
    APP = "app", _("app notification")


class ConsentMethod(models.TextChoices):
    """How the customer gave (or withdrew) consent."""

    BRANCH_FORM = "branch_form", _("signed form at the branch counter")
    ONLINE = "online", _("online banking")
    APP = "app", _("mobile app")
    PHONE_RECORDED = "phone_recorded", _("recorded phone call")
    MIGRATED = "migrated", _("carried over from the former single consent field")
    REPORTED = "reported", _("reported by a bank system (API or import)")


class Consent(models.Model):
    """The current consent of a customer for one purpose and one channel (history in ConsentChange)."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="consents", db_index=False)
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=ContactChannel.choices)
    state = models.CharField(_("state"), max_length=10, choices=ConsentState.choices)
    method = models.CharField(_("how"), max_length=20, choices=ConsentMethod.choices)
    changed_at = models.DateTimeField(_("when"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["customer", "purpose", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "purpose", "channel"], name="consent_one_per_purpose_channel"),
        ]
        indexes = [models.Index(fields=["purpose", "state", "customer"], name="consent_purpose_state_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}/{self.channel}: {self.state}"


class ConsentChange(models.Model):
    """One giving or withdrawal of consent, kept for good (the history PIPL asks for)."""

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="consent_changes", db_index=False)
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    channel = models.CharField(_("channel"), max_length=10, choices=ContactChannel.choices)
    from_state = models.CharField(_("from"), max_length=10, choices=ConsentState.choices)
    state = models.CharField(_("to"), max_length=10, choices=ConsentState.choices)
    method = models.CharField(_("how"), max_length=20, choices=ConsentMethod.choices)
    changed_at = models.DateTimeField(_("when"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("consent change")
        verbose_name_plural = _("consent changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["customer", "-changed_at"], name="consent_change_customer_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.purpose}/{self.channel}: {self.from_state} -> {self.state}"


class CustomerUserObjectPermission(SharedRecordPermissionBase):
    """guardian's direct-FK table for customers: one row per share in force (accounts.RecordShare)."""

    content_object = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                       related_name="user_object_permissions")

    class Meta(SharedRecordPermissionBase.Meta):
        verbose_name = _("customer share permission")
        verbose_name_plural = _("customer share permissions")
        indexes = [
            # The scope subquery: "which customers are shared with me until at least today?"
            models.Index(fields=["user", "ends_on", "content_object"], name="customer_share_perm_scope"),
        ]


class CustomerGroupObjectPermission(GroupObjectPermissionBase):
    """guardian's direct-FK group table for customers (records are shared with people, so unused today)."""

    content_object = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                       related_name="group_object_permissions")

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("customer group permission")
        verbose_name_plural = _("customer group permissions")
