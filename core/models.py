"""Core tables: the append-only audit log, the task outbox, the task-execution ledger and idempotency records."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import BrinIndex
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class AuditEvent(models.Model):
    """One append-only, hash-chained audit row. Written only by ``core.audit.audit_record``.

    A row is inserted unsealed (``chain_seq`` NULL, no hashes) in the business transaction and
    sealed once, after commit, by ``core.audit.audit_seal``. PostgreSQL triggers (migrations
    0002, 0004) refuse DELETE, TRUNCATE and every UPDATE except that one sealing of a row.
    """

    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now, editable=False)
    # No foreign key: core sits below accounts, and audit rows must outlive the users they name.
    actor_id = models.BigIntegerField(_("actor id"), null=True, blank=True)
    actor_label = models.CharField(
        _("actor"), max_length=200,
        help_text=_('Username, or "anonymous", "system", "api-key:<name>".'),
    )
    action = models.CharField(_("action"), max_length=64)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    detail = models.JSONField(
        _("detail"), default=dict, blank=True, help_text=_("Ids and metadata, never PII.")
    )
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    # Set once by the sealer: the row's place in the chain, the previous sealed row's hash, its own.
    chain_seq = models.BigIntegerField(_("chain position"), null=True, blank=True, unique=True, editable=False)
    prev_hash = models.CharField(_("previous hash"), max_length=64, blank=True, default="")
    hash = models.CharField(_("hash"), max_length=64, blank=True, default="")

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="core_audit_target_idx"),
            models.Index(fields=["actor_id", "occurred_at"], name="core_audit_actor_idx"),
            models.Index(fields=["action"], name="core_audit_action_idx"),
            # Rows arrive in time order, so a BRIN index makes date-range filters cheap at any size.
            BrinIndex(fields=["occurred_at"], name="core_audit_occurred_brin"),
            # The sealer's queue: only the few rows not sealed yet.
            models.Index(fields=["id"], condition=Q(chain_seq__isnull=True), name="core_audit_unsealed_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} by {self.actor_label}"


class OutboxMessageQuerySet(models.QuerySet):
    def due(self, *, now=None) -> OutboxMessageQuerySet:
        """Pending messages the relay may publish now."""
        return self.filter(status=OutboxMessage.Status.PENDING, available_at__lte=now or timezone.now())


class OutboxMessage(models.Model):
    """A Celery task call saved in the business transaction, published to the broker after commit."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SENT = "sent", _("sent")

    id = models.BigAutoField(primary_key=True)
    # Used as the Celery task id, so a message published twice is recognisable as one task.
    uuid = models.UUIDField(_("task id"), default=uuid.uuid4, unique=True, editable=False)
    task_name = models.CharField(_("task name"), max_length=200)
    kwargs = models.JSONField(_("keyword arguments"), default=dict, blank=True)
    queue = models.CharField(_("queue"), max_length=100, default="default")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    available_at = models.DateTimeField(_("available at"), default=timezone.now)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    attempts = models.PositiveIntegerField(_("publish attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)

    objects = OutboxMessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("outbox message")
        verbose_name_plural = _("outbox messages")
        indexes = [
            # Sent rows pile up; the relay only ever scans the few pending ones.
            models.Index(
                fields=["available_at", "id"], condition=Q(status="pending"), name="core_outbox_pending_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending", sent_at__isnull=True) | Q(status="sent", sent_at__isnull=False),
                name="core_outbox_sent_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.status}] {self.uuid}"


class TaskExecution(models.Model):
    """A task id whose work has committed; a redelivered message with the same id is skipped."""

    task_id = models.CharField(_("task id"), max_length=255, unique=True)
    task_name = models.CharField(_("task name"), max_length=200)
    finished_at = models.DateTimeField(_("finished at"), default=timezone.now)

    class Meta:
        verbose_name = _("task execution")
        verbose_name_plural = _("task executions")

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"


class IdempotencyRecord(models.Model):
    """One POST made with an ``Idempotency-Key`` header, and its response once it finished.

    Written only by ``core.idempotency``. ``principal`` is "api-key:<id>" or "user:<id>", so two
    clients may use the same key. A row without ``completed_at`` is a request still in flight.
    Rows expire after ``core.idempotency.RECORD_TTL`` (24 h).
    """

    id = models.BigAutoField(primary_key=True)
    principal = models.CharField(_("principal"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    request_fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    response_body = models.JSONField(_("response body"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["principal", "key"], name="core_idempotency_principal_key_uniq"),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True, status_code__isnull=True)
                | Q(completed_at__isnull=False, status_code__isnull=False),
                name="core_idempotency_completed_has_status",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="core_idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class NotificationQuerySet(models.QuerySet):
    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One message in a member of staff's in-app inbox, from any chapter (core.notifications).

    The text is not stored: ``kind`` names a message registered by the chapter that sends it and
    ``params`` fills it, so the reader sees it in their own language. ``params`` carries ids,
    references and figures, never PII.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE,
                                  related_name="notifications")
    kind = models.CharField(_("kind"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    url = models.CharField(_("link"), max_length=500, blank=True)
    # Sending twice with the same key (a retried task, a re-run job) leaves one message per recipient.
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"], name="core_notification_once",
                                    condition=~Q(dedupe_key="")),
        ]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="core_notification_inbox")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id}"
class CalendarDay(models.Model):
    """An exception to the Monday-to-Friday week: a public holiday, or a weekend day worked (调休).

    Maintained by admins (admin page or CSV import, ``core.workdays``); every working-day
    computation in the project reads it through ``core.workdays``.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("public holiday")
        WORKDAY = "workday", _("working weekend day")

    day = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True,
                            help_text=_("The holiday it belongs to, e.g. 春节 / Spring Festival."))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("working-day calendar")
        ordering = ["day"]
        constraints = [
            # Holidays may list their weekend days too (the State Council's notice does); a
            # "working day" on a weekday would change nothing, so only weekends may be one.
            models.CheckConstraint(
                condition=Q(kind="holiday") | Q(day__week_day__in=[1, 7]),
                name="core_calendar_workday_on_weekend",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.get_kind_display()} {self.name}".rstrip()


class SecurityEvent(models.Model):
    """Anonymous denials (unknown API key, anonymous 403 such as a POST without CSRF), one row per kind,
    source address and minute. Not the audit hash chain: anyone on the network can cause these, so
    they are aggregated, rate-limited and purged after SECURITY_EVENT_RETENTION_DAYS
    (``core.security_events``). The audit log keeps what staff and API clients do.
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(_("kind"), max_length=64)
    source = models.CharField(_("source address"), max_length=45)
    minute = models.DateTimeField(_("minute"))
    count = models.PositiveIntegerField(_("count"), default=0)
    sample_path = models.CharField(_("example path"), max_length=200, blank=True)
    last_seen_at = models.DateTimeField(_("last seen at"), default=timezone.now)

    class Meta:
        verbose_name = _("security event")
        verbose_name_plural = _("security events")
        ordering = ["-minute", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "source", "minute"], name="core_security_event_bucket_uniq"),
        ]
        indexes = [BrinIndex(fields=["minute"], name="core_security_event_minute")]

    def __str__(self) -> str:
        return f"{self.kind} {self.source} {self.minute:%Y-%m-%d %H:%M} x{self.count}"


class ApiReadTally(models.Model):
    """Masked customer rows an API key read, per endpoint and hour: the audit of bulk reads in aggregate.

    Unmasked reads are audited row by row (AuditEvent "pii.reveal"); masked ones would flood the log,
    so each request adds its row count here (core.audit.api_read_tally_add) and an auditor sees who
    pulled how much. Written only by that function; read-only in admin.
    """

    id = models.BigAutoField(primary_key=True)
    principal = models.CharField(_("API key"), max_length=64, help_text=_('"api-key:<id>"'))
    principal_label = models.CharField(_("key name"), max_length=200)
    endpoint = models.CharField(_("endpoint"), max_length=200)
    hour = models.DateTimeField(_("hour (UTC)"))
    requests = models.PositiveIntegerField(_("requests"), default=0)
    rows = models.PositiveBigIntegerField(_("rows"), default=0)

    class Meta:
        verbose_name = _("API read tally")
        verbose_name_plural = _("API read tallies")
        constraints = [
            models.UniqueConstraint(fields=["principal", "endpoint", "hour"], name="core_api_read_tally_uniq"),
        ]
        indexes = [models.Index(fields=["-hour"], name="core_api_read_tally_hour_idx")]

    def __str__(self) -> str:
        return f"{self.principal_label} {self.endpoint} {self.hour:%Y-%m-%d %H}:00 {self.rows}"
