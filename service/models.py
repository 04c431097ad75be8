"""Service processes and the customer's voice (MANUAL 2.4, 3.1-3.2): touchpoints with their
service standard, service records, survey invitations and their stubbed SMS, survey responses
with feedback topics, and the follow-up tasks a dissatisfied answer opens for the RM.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from accounts.models import Role
from core.fields import EncryptedTextField
from core.i18n import text_in_ui_language, texts_in_ui_language

# The NPS definition (Reichheld): 0-6 detractor, 7-8 passive, 9-10 promoter. A CSAT of 1-2 on
# the 5-point scale is "dissatisfied". These define the measures; they are not tunable targets.
NPS_DETRACTOR_MAX = 6
NPS_PROMOTER_MIN = 9
CSAT_DISSATISFIED_MAX = 2


def dissatisfied_sql(alias: str) -> str:
    """``SurveyResponse.is_dissatisfied`` as a SQL condition on the row ``alias`` (set-based writers)."""
    return f"({alias}.nps <= {NPS_DETRACTOR_MAX} OR {alias}.csat <= {CSAT_DISSATISFIED_MAX})"


class Touchpoint(models.Model):
    """A point where the customer meets the bank (开户, 咨询, 理财, 转账, 投诉) and its service standard (SOP)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    sop_steps = ArrayField(
        models.CharField(max_length=200), verbose_name=_("SOP steps (English)"), default=list, blank=True,
        help_text=_("The checklist staff tick off, in order; one step per line."),
    )
    sop_steps_zh = ArrayField(
        models.CharField(max_length=200), verbose_name=_("SOP steps (Chinese)"), default=list, blank=True,
        help_text=_("The same steps in Chinese, in the same order."),
    )
    target_minutes = models.PositiveIntegerField(
        _("target handling time (minutes)"), validators=[MinValueValidator(1)]
    )
    owner_role = models.CharField(_("owner role"), max_length=30, choices=Role.choices)
    is_active = models.BooleanField(_("in use"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("touchpoint")
        verbose_name_plural = _("touchpoints")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(target_minutes__gte=1), name="touchpoint_target_positive"),
        ]

    def __str__(self) -> str:
        return capfirst(self.label)

    @property
    def label(self) -> str:
        """The name in the user's language."""
        return text_in_ui_language(en=self.name, zh=self.name_zh)

    @property
    def sop_step_labels(self) -> list[tuple[str, str]]:
        """(stored step, step in the user's language) for each SOP step."""
        return list(zip(self.sop_steps, texts_in_ui_language(en=self.sop_steps, zh=self.sop_steps_zh), strict=True))


class ServiceOutcome(models.TextChoices):
    COMPLETED = "completed", _("completed")
    REFERRED = "referred", _("referred to another desk")
    ABANDONED = "abandoned", _("not completed")


class ServiceRecordQuerySet(models.QuerySet):
    def overrun(self) -> ServiceRecordQuerySet:
        return self.filter(handling_seconds__gt=F("target_minutes") * 60)


class ServiceRecord(models.Model):
    """One service given to a customer at a touchpoint, timed against the standard in force then.

    ``target_minutes`` is the touchpoint's target when the record was made (STYLE §5: results
    carry the numbers that judged them), so editing a standard does not rewrite past overruns.
    """

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="service_records")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="service_records")
    touchpoint = models.ForeignKey("service.Touchpoint", verbose_name=_("touchpoint"), on_delete=models.PROTECT,
                                   related_name="service_records")
    # The customer's branch when served: the branch report groups on it without a join.
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), on_delete=models.PROTECT,
                               related_name="service_records")
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"))
    handling_seconds = models.PositiveIntegerField(_("handling time (seconds)"))
    target_minutes = models.PositiveIntegerField(_("target handling time (minutes)"))
    steps_completed = ArrayField(models.CharField(max_length=200), verbose_name=_("steps completed"),
                                 default=list, blank=True)
    outcome = models.CharField(_("outcome"), max_length=12, choices=ServiceOutcome.choices)
    notes = models.CharField(_("notes"), max_length=1000, blank=True)
    # NULL, not "", when absent: the unique constraint must let any number of records go without one.
    external_ref = models.CharField(_("external reference"), max_length=64, null=True, blank=True)  # noqa: DJ001
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    objects = ServiceRecordQuerySet.as_manager()

    class Meta:
        verbose_name = _("service record")
        verbose_name_plural = _("service records")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-started_at"], name="svcrec_customer_idx"),
            models.Index(fields=["branch", "started_at"], name="svcrec_branch_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(ended_at__gte=F("started_at")), name="svcrec_ended_after_started"),
            models.UniqueConstraint(fields=["external_ref"], name="svcrec_external_ref_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.touchpoint_id} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def handling_minutes(self) -> float:
        return round(self.handling_seconds / 60, 1)

    @property
    def is_overrun(self) -> bool:
        return self.handling_seconds > self.target_minutes * 60


class SurveyInvitation(models.Model):
    """An invitation to answer a survey, reached through an unguessable link until it expires.

    Only the sha256 of the token is stored. The link itself lives, encrypted, in the outbound
    message until that message is sent or fails (OutboundMessage.link).
    """

    class Trigger(models.TextChoices):
        SERVICE = "service", _("after a service")
        COMPLAINT = "complaint", _("after a complaint was resolved")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="survey_invitations")
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    reference = models.CharField(_("reference"), max_length=64, blank=True,
                                 help_text=_("The service record id or the complaint reference number."))
    service_record = models.ForeignKey("service.ServiceRecord", verbose_name=_("service record"), null=True,
                                       blank=True, on_delete=models.SET_NULL, related_name="survey_invitations")
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("sent at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("sent by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("survey invitation")
        verbose_name_plural = _("survey invitations")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="svcinv_customer_idx"),
            models.Index(fields=["trigger", "reference"], name="svcinv_reference_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(expires_at__gt=F("created_at")), name="svcinv_expires_after_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} {self.reference}".strip()


class OutboundMessage(models.Model):
    """A message to a customer. No SMS gateway exists yet, so this table is the channel (a stub).

    ``body`` is what staff may read: a survey link in it is replaced by LINK_PLACEHOLDER, since
    whoever holds the link can answer as the customer. The real link waits in ``link``
    (encrypted) and is wiped once the message is sent or has failed.
    """

    LINK_PLACEHOLDER = "[link]"

    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        SENT = "sent", _("sent (stub)")
        FAILED = "failed", _("not sent")

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="outbound_messages")
    invitation = models.ForeignKey("service.SurveyInvitation", verbose_name=_("survey invitation"), null=True,
                                   blank=True, on_delete=models.CASCADE, related_name="messages")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices, default=Channel.SMS)
    recipient_masked = models.CharField(_("recipient"), max_length=40, blank=True)
    body = models.TextField(_("text"), help_text=_("Any link in the message shows as [link]."))
    link = EncryptedTextField(_("link"), blank=True, default="", editable=False,
                              help_text=_("The link sent in place of [link]; emptied once the message is sent."))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    failure_reason = models.CharField(_("reason not sent"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                                   name="svcmsg_sent_at_when_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.recipient_masked}"

    @property
    def text_to_send(self) -> str:
        """The text the customer receives: the body with the real link put back."""
        return self.body.replace(self.LINK_PLACEHOLDER, self.link) if self.link else self.body


class FeedbackTopic(models.Model):
    """A category of feedback ("slow response", "product too complex"), found by keywords in a comment."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_zh = models.CharField(_("name (Chinese)"), max_length=100, blank=True)
    keywords = ArrayField(
        models.CharField(max_length=50), verbose_name=_("keywords"), default=list, blank=True,
        help_text=_("A comment containing any of these words (case-insensitive) gets this topic."),
    )
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("feedback topic")
        verbose_name_plural = _("feedback topics")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return capfirst(self.label)

    @property
    def label(self) -> str:
        return text_in_ui_language(en=self.name, zh=self.name_zh)


def _score_between(field: str, low: int, high: int) -> Q:
    return Q(**{f"{field}__gte": low, f"{field}__lte": high})


class SurveyResponse(models.Model):
    """The customer's answer to one invitation: CSAT 1-5, NPS 0-10, 0-100 by dimension, a comment."""

    invitation = models.OneToOneField("service.SurveyInvitation", verbose_name=_("survey invitation"),
                                      on_delete=models.CASCADE, related_name="response")
    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="survey_responses")
    csat = models.PositiveSmallIntegerField(_("satisfaction (1-5)"),
                                            validators=[MinValueValidator(1), MaxValueValidator(5)])
    nps = models.PositiveSmallIntegerField(_("likelihood to recommend (0-10)"),
                                           validators=[MinValueValidator(0), MaxValueValidator(10)])
    score_service = models.PositiveSmallIntegerField(_("service (0-100)"), null=True, blank=True)
    score_product = models.PositiveSmallIntegerField(_("product (0-100)"), null=True, blank=True)
    score_ease = models.PositiveSmallIntegerField(_("ease (0-100)"), null=True, blank=True)
    comment = models.TextField(_("comment"), max_length=2000, blank=True)
    topics = models.ManyToManyField("service.FeedbackTopic", verbose_name=_("feedback topics"), blank=True,
                                    related_name="responses")
    topics_edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("topics edited by"), null=True,
                                         blank=True, on_delete=models.SET_NULL, related_name="+")
    topics_edited_at = models.DateTimeField(_("topics edited at"), null=True, blank=True)
    submitted_at = models.DateTimeField(_("answered at"))

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-submitted_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-submitted_at"], name="svcresp_customer_idx"),
            models.Index(fields=["-submitted_at", "-id"], name="svcresp_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=_score_between("csat", 1, 5), name="svcresp_csat_1_5"),
            models.CheckConstraint(condition=_score_between("nps", 0, 10), name="svcresp_nps_0_10"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"{field}__isnull": True}) | _score_between(field, 0, 100),
                    name=f"svcresp_{field}_0_100",
                )
                for field in ("score_service", "score_product", "score_ease")
            ],
        ]

    def __str__(self) -> str:
        return f"CSAT {self.csat} · NPS {self.nps}"

    @property
    def is_dissatisfied(self) -> bool:
        """A detractor (NPS 0-6) or a dissatisfied CSAT (1-2): the RM follows it up."""
        return self.nps <= NPS_DETRACTOR_MAX or self.csat <= CSAT_DISSATISFIED_MAX

    @property
    def nps_group(self) -> str:
        if self.nps <= NPS_DETRACTOR_MAX:
            return "detractor"
        return "promoter" if self.nps >= NPS_PROMOTER_MIN else "passive"


class FollowUpTask(models.Model):
    """A dissatisfied answer to follow up: assigned to the customer's RM (the branch when none)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        DONE = "done", _("followed up")
        CLOSED = "closed", _("closed without follow-up")

    TRANSITIONS = {Status.OPEN: {Status.DONE, Status.CLOSED}}

    customer = models.ForeignKey("customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE,
                                 related_name="follow_up_tasks")
    response = models.OneToOneField("service.SurveyResponse", verbose_name=_("survey response"),
                                    on_delete=models.CASCADE, related_name="follow_up")
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("relationship manager"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="service_follow_ups")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    due_on = models.DateField(_("due"))
    note = models.CharField(_("outcome note"), max_length=1000, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    finished_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("finished by"), null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("follow-up task")
        verbose_name_plural = _("follow-up tasks")
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["assigned_to", "status", "due_on"], name="svcfu_assignee_idx"),
            models.Index(fields=["customer", "status"], name="svcfu_customer_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(status="open", finished_at__isnull=True)
                           | (~Q(status="open") & Q(finished_at__isnull=False))),
                name="svcfu_finished_at_iff_finished",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.get_status_display()}"


class FollowUpTaskEvent(models.Model):
    """One transition of a follow-up task (STYLE §4)."""

    task = models.ForeignKey("service.FollowUpTask", verbose_name=_("follow-up task"), on_delete=models.CASCADE,
                             related_name="events")
    from_status = models.CharField(_("from"), max_length=10, choices=FollowUpTask.Status.choices)
    to_status = models.CharField(_("to"), max_length=10, choices=FollowUpTask.Status.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL,
                           related_name="+")
    note = models.CharField(_("note"), max_length=1000, blank=True)
    occurred_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("follow-up task event")
        verbose_name_plural = _("follow-up task events")
        ordering = ["occurred_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class ServicePolicy(models.Model):
    """The numbers of the survey loop (STYLE §5): a change is a new version, never an edit."""

    version = models.PositiveIntegerField(_("version"), unique=True)
    survey_valid_days = models.PositiveIntegerField(
        _("survey link valid for (days)"), default=14, validators=[MinValueValidator(1), MaxValueValidator(90)])
    follow_up_due_working_days = models.PositiveIntegerField(
        _("dissatisfied answer: follow-up due within (working days)"), default=3,
        validators=[MinValueValidator(1), MaxValueValidator(30)])
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("service policy")
        verbose_name_plural = _("service policies")
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"v{self.version}"
