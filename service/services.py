"""Writes for service processes and surveys (MANUAL 2.4, 3.1-3.2).

Every function is keyword-only, typed and atomic (STYLE.md §1). ``survey_send`` is the interface
the complaints app calls when a complaint is resolved.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import permissions, scope
from accounts.models import User
from core import workdays
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.outbox import outbox_enqueue
from customers.models import Customer
from service.models import (
    FeedbackTopic,
    FollowUpTask,
    FollowUpTaskEvent,
    OutboundMessage,
    ServiceOutcome,
    ServicePolicy,
    ServiceRecord,
    SurveyInvitation,
    SurveyResponse,
    Touchpoint,
)

logger = logging.getLogger(__name__)

# 32 random bytes → 43 URL-safe characters: nothing to guess or enumerate.
SURVEY_TOKEN_BYTES = 32
# How long a survey link answers and the working days (core.workdays: holidays and 调休 included)
# the RM gets to call a dissatisfied customer back are versioned policy data: ServicePolicy.
# Clock skew between a device and the server, not a business number.
FUTURE_TOLERANCE = timedelta(minutes=5)
# One service is a visit, not a shift: longer is a typing error.
SERVICE_MAX_DURATION = timedelta(hours=12)
# No branch recorded services on paper-era dates; earlier is a typing error (and far-past
# moments do not survive the conversion to UTC).
SERVICE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
OUTBOUND_SEND_TASK = "service.outbound_message_send_task"
LOCAL_BASE_URL = "http://127.0.0.1:8000"


def service_policy_latest() -> ServicePolicy:
    """The newest service policy (migration 0005 creates version 1; the defaults if none is left)."""
    return ServicePolicy.objects.order_by("-version").first() or ServicePolicy(version=0)


@transaction.atomic
def service_policy_create(*, by: User, **numbers) -> ServicePolicy:
    """Add a new policy version from the latest one's numbers changed by ``numbers``; audited."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    latest = service_policy_latest()
    policy = ServicePolicy(
        version=latest.version + 1, created_by=by,
        survey_valid_days=numbers.get("survey_valid_days", latest.survey_valid_days),
        follow_up_due_working_days=numbers.get("follow_up_due_working_days", latest.follow_up_due_working_days),
    )
    policy.full_clean(exclude=["created_by"])
    policy.save(force_insert=True)
    audit_record(actor=by, action="service.policy_create", target=policy,
                 detail={"survey_valid_days": policy.survey_valid_days,
                         "follow_up_due_working_days": policy.follow_up_due_working_days})
    return policy


def survey_token_hash(token: str) -> str:
    """The sha256 of a survey token: what the invitation stores and is looked up by.

    Looking up by the hash of the presented token keeps the comparison away from the secret
    itself: a timing difference can only tell an attacker about hash prefixes they cannot steer.
    """
    return hashlib.sha256(token.encode()).hexdigest()


def _public_base_url() -> str:
    """The origin customers reach: PUBLIC_BASE_URL, else the first trusted origin, else localhost."""
    configured = getattr(settings, "PUBLIC_BASE_URL", "") or next(iter(settings.CSRF_TRUSTED_ORIGINS), "")
    return (configured or LOCAL_BASE_URL).rstrip("/")


def _actor_user(by) -> User | None:
    """A staff user to store on a row; None for the system or an API key."""
    return by if isinstance(by, User) else None


# --- Touchpoints (service standards) -------------------------------------------------------

# What an administrator may set on a touchpoint; the target time and SOP steps are its standard.
TOUCHPOINT_FIELDS = ("code", "name", "name_zh", "sop_steps", "sop_steps_zh", "target_minutes", "owner_role",
                     "is_active", "position")
TOUCHPOINT_CREATE_ACTION = "service.touchpoint_create"
TOUCHPOINT_UPDATE_ACTION = "service.touchpoint_standard_update"


def _touchpoint_values_check(values: dict) -> None:
    unknown = sorted(set(values) - set(TOUCHPOINT_FIELDS))
    if unknown:
        raise ApplicationError.invalid(_("These touchpoint fields cannot be set: %(fields)s.")
                                       % {"fields": ", ".join(unknown)})
    target = values.get("target_minutes")
    if "target_minutes" in values and (isinstance(target, bool) or not isinstance(target, int) or target < 1):
        raise ApplicationError.invalid(_("The target handling time is at least 1 minute."), field="target_minutes")
    if "sop_steps" in values:
        values["sop_steps"] = [str(step).strip() for step in values["sop_steps"] or [] if str(step).strip()]


@transaction.atomic
def touchpoint_create(*, by: User, **values) -> Touchpoint:
    """Add a touchpoint with its service standard; audited. ``values`` are TOUCHPOINT_FIELDS."""
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    _touchpoint_values_check(values)
    touchpoint = Touchpoint.objects.create(**values)
    audit_record(actor=by, action=TOUCHPOINT_CREATE_ACTION, target=touchpoint,
                 detail={"values": {field: getattr(touchpoint, field) for field in TOUCHPOINT_FIELDS}})
    return touchpoint


@transaction.atomic
def touchpoint_standard_update(*, touchpoint: Touchpoint, by: User, changes: dict) -> Touchpoint:
    """Change a touchpoint's standard (target time, SOP steps, owner, ...) and audit before and after.

    Records already made keep the target they were timed against (ServiceRecord.target_minutes).
    Returns the touchpoint as stored; a call that changes nothing writes nothing.
    """
    if not permissions.is_admin(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    changes = dict(changes)
    _touchpoint_values_check(changes)
    locked = Touchpoint.objects.select_for_update().get(pk=touchpoint.pk)
    changed = {field: value for field, value in changes.items() if getattr(locked, field) != value}
    if not changed:
        return locked
    before = {field: getattr(locked, field) for field in changed}
    for field, value in changed.items():
        setattr(locked, field, value)
    locked.save(update_fields=list(changed))
    audit_record(actor=by, action=TOUCHPOINT_UPDATE_ACTION, target=locked,
                 detail={"changes": {field: {"from": before[field], "to": changed[field]} for field in changed}})
    return locked


# --- Service records ------------------------------------------------------------------------


@transaction.atomic
def service_record_create(
    *,
    customer: Customer,
    by,
    touchpoint: Touchpoint,
    started_at: datetime,
    ended_at: datetime,
    outcome: str,
    steps_completed: list[str] | None = None,
    notes: str = "",
    staff: User | None = None,
    external_ref: str | None = None,
    send_survey: bool = True,
) -> ServiceRecord:
    """Record a service given to the customer, timed against the touchpoint's standard.

    ``by`` is the signed-in staff user (who is then the staff member) or an API client, which
    may name the ``staff`` member. The caller has fetched ``customer`` through a scoped
    selector. A completed service sends a satisfaction survey unless ``send_survey`` is False.
    """
    if scope.is_staff_principal(by) and not permissions.can_record_service(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if not touchpoint.is_active:
        raise ApplicationError.invalid(_("This touchpoint is no longer in use."), field="touchpoint")
    if outcome not in ServiceOutcome.values:
        raise ApplicationError.invalid(_("Choose an outcome from the list."), field="outcome")
    started_at, ended_at = (timezone.make_aware(moment) if timezone.is_naive(moment) else moment
                            for moment in (started_at, ended_at))
    if started_at < SERVICE_EARLIEST:
        raise ApplicationError.invalid(_("Check the date: services are recorded from 2000 on."), field="started_at")
    if ended_at < started_at:
        raise ApplicationError.invalid(_("The service cannot end before it starts."), field="ended_at")
    if ended_at > timezone.now() + FUTURE_TOLERANCE:
        raise ApplicationError.invalid(_("A service cannot be recorded before it ends."), field="ended_at")
    if ended_at - started_at > SERVICE_MAX_DURATION:
        raise ApplicationError.invalid(_("Check the times: one service lasts at most 12 hours."), field="ended_at")
    steps_completed = list(dict.fromkeys(steps_completed or []))
    unknown_steps = [step for step in steps_completed if step not in touchpoint.sop_steps]
    if unknown_steps:
        raise ApplicationError.invalid(_("Tick only steps of this touchpoint's standard."), field="steps_completed")
    notes = (notes or "").strip()
    if len(notes) > ServiceRecord._meta.get_field("notes").max_length:
        raise ApplicationError.invalid(_("The notes are too long."), field="notes")
    external_ref = (external_ref or "").strip() or None
    if external_ref and ServiceRecord.objects.filter(external_ref=external_ref).exists():
        raise ApplicationError(ErrorCode.CONFLICT, _("A service record with this external reference exists."),
                               field_errors={"external_ref": [_("Already recorded.")]})
    staff_member = staff if staff is not None else _actor_user(by)
    try:
        with transaction.atomic():
            record = ServiceRecord.objects.create(
                customer=customer,
                staff=staff_member,
                touchpoint=touchpoint,
                branch_id=customer.branch_id,
                started_at=started_at,
                ended_at=ended_at,
                handling_seconds=int((ended_at - started_at).total_seconds()),
                target_minutes=touchpoint.target_minutes,
                steps_completed=steps_completed,
                outcome=outcome,
                notes=notes,
                external_ref=external_ref,
            )
    except IntegrityError as error:  # a concurrent request with the same external reference
        raise ApplicationError(ErrorCode.CONFLICT, _("A service record with this external reference exists."),
                               field_errors={"external_ref": [_("Already recorded.")]}) from error
    if send_survey and outcome == ServiceOutcome.COMPLETED:
        survey_send(customer=customer, trigger=SurveyInvitation.Trigger.SERVICE, reference=str(record.pk),
                    by=_actor_user(by))
    return record


# --- Surveys --------------------------------------------------------------------------------


@transaction.atomic
def survey_send(
    *, customer: Customer, trigger: str, reference: str = "", by: User | None = None
) -> SurveyInvitation:
    """Invite the customer to a survey: an invitation with a fresh token and its SMS, in one transaction.

    ``trigger`` is SurveyInvitation.Trigger ("service" or "complaint"); ``reference`` the service
    record id or the complaint reference number. Calling again for the same trigger and
    reference while the first invitation is still open returns that one (no second SMS).
    The raw token is never stored in plain text: the message keeps its link encrypted until
    it is sent, and the caller gets it as ``invitation.token`` on the returned object (None
    when an open invitation was returned).
    """
    if trigger not in SurveyInvitation.Trigger.values:
        raise ApplicationError.invalid(_("Unknown survey trigger."), field="trigger")
    reference = (reference or "").strip()
    if len(reference) > SurveyInvitation._meta.get_field("reference").max_length:
        raise ApplicationError.invalid(_("The reference is too long."), field="reference")
    now = timezone.now()
    if reference:
        open_invitation = (
            SurveyInvitation.objects.select_for_update(of=("self",))
            .filter(customer=customer, trigger=trigger, reference=reference, expires_at__gt=now,
                    response__isnull=True)
            .first()
        )
        if open_invitation is not None:
            open_invitation.token = None
            return open_invitation
    service_record = None
    if trigger == SurveyInvitation.Trigger.SERVICE and reference.isdigit():
        service_record = ServiceRecord.objects.filter(pk=int(reference), customer=customer).first()
    token = secrets.token_urlsafe(SURVEY_TOKEN_BYTES)
    invitation = SurveyInvitation.objects.create(
        customer=customer,
        trigger=trigger,
        reference=reference,
        service_record=service_record,
        token_hash=survey_token_hash(token),
        expires_at=now + timedelta(days=service_policy_latest().survey_valid_days),
        created_by=by,
    )
    invitation.token = token
    message = _outbound_survey_message_create(invitation=invitation, token=token)
    if message.status == OutboundMessage.Status.QUEUED:
        outbox_enqueue(task_name=OUTBOUND_SEND_TASK, kwargs={"message_id": message.pk})
    logger.info("Survey invitation %s created (%s), message %s %s", invitation.pk, trigger, message.pk,
                message.status)
    return invitation


def _outbound_survey_message_create(*, invitation: SurveyInvitation, token: str) -> OutboundMessage:
    """The survey SMS. Its body names the link only as a placeholder: the link (token included)
    lets anyone answer as the customer, so it is kept encrypted and only until the send."""
    customer = invitation.customer
    link = _public_base_url() + reverse("service-public:survey-answer", kwargs={"token": token})
    # Customers read the bank's default language, whatever the language of the staff member's screen.
    with translation.override(settings.LANGUAGE_CODE):
        expires_on = timezone.localdate(invitation.expires_at).isoformat()
        if invitation.trigger == SurveyInvitation.Trigger.COMPLAINT:
            body = _("Your complaint %(reference)s has been resolved. How satisfied are you? "
                     "Tell us in 2 minutes: %(link)s (valid until %(date)s)") % {
                "reference": invitation.reference, "link": OutboundMessage.LINK_PLACEHOLDER, "date": expires_on}
        else:
            body = _("Thank you for visiting us. How did we do? Tell us in 2 minutes: %(link)s "
                     "(valid until %(date)s)") % {"link": OutboundMessage.LINK_PLACEHOLDER, "date": expires_on}
    phone = customer.phone
    return OutboundMessage.objects.create(
        customer=customer,
        invitation=invitation,
        channel=OutboundMessage.Channel.SMS,
        recipient_masked=customer.masked_phone if phone else "",
        body=body,
        # A message that cannot go out never holds the link.
        link=link if phone else "",
        status=OutboundMessage.Status.QUEUED if phone else OutboundMessage.Status.FAILED,
        failure_reason="" if phone else "no mobile phone on record",
    )


def outbound_message_send(*, message_id: int) -> OutboundMessage | None:
    """Deliver a queued message through the SMS stub: no gateway exists, so mark it sent.

    The link is wiped in the same write: once the text has left, nothing needs it. Idempotent:
    a message that is not queued any more is left as it is (its link wiped, should one remain).
    """
    with transaction.atomic():
        message = OutboundMessage.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            return None
        if message.status != OutboundMessage.Status.QUEUED:
            if message.link:
                message.link = ""
                message.save(update_fields=["link"])
            return message
        # TODO #6: hand message.text_to_send to the bank's SMS gateway here once one exists.
        message.status = OutboundMessage.Status.SENT
        message.sent_at = timezone.now()
        message.link = ""
        message.save(update_fields=["status", "sent_at", "link"])
        return message


def survey_invitation_find(*, token: str) -> SurveyInvitation | None:
    """Return the invitation the token belongs to, or None for an unknown or malformed token."""
    if not token or len(token) > 100:
        return None
    return (
        SurveyInvitation.objects.select_related("customer", "response")
        .filter(token_hash=survey_token_hash(token))
        .first()
    )


def feedback_topics_match(*, comment: str) -> list[FeedbackTopic]:
    """Return the active topics whose keywords occur in the comment (case-insensitive)."""
    text = (comment or "").casefold()
    if not text.strip():
        return []
    return [
        topic for topic in FeedbackTopic.objects.filter(is_active=True)
        if any(keyword.strip() and keyword.strip().casefold() in text for keyword in topic.keywords)
    ]


class SurveyAlreadyAnswered(ApplicationError):
    def __init__(self):
        super().__init__(ErrorCode.CONFLICT, _("This survey has already been answered. Thank you."))


class SurveyUnavailable(ApplicationError):
    def __init__(self):
        super().__init__(ErrorCode.NOT_FOUND, _("This survey link is not valid or has expired."))


@transaction.atomic
def survey_response_submit(
    *,
    invitation: SurveyInvitation,
    csat: int,
    nps: int,
    score_service: int | None = None,
    score_product: int | None = None,
    score_ease: int | None = None,
    comment: str = "",
) -> SurveyResponse:
    """Store the customer's answer, tag its topics and, when dissatisfied, open a follow-up for the RM.

    Raises SurveyUnavailable for an expired invitation and SurveyAlreadyAnswered for a second
    answer (the one-to-one constraint decides a race between two submissions).
    """
    now = timezone.now()
    invitation = (SurveyInvitation.objects.select_for_update(of=("self",)).select_related("customer")
                  .get(pk=invitation.pk))
    if invitation.expires_at <= now:
        raise SurveyUnavailable()
    if SurveyResponse.objects.filter(invitation=invitation).exists():
        raise SurveyAlreadyAnswered()
    _check_score(csat, 1, 5, "csat")
    _check_score(nps, 0, 10, "nps")
    for field, value in (("score_service", score_service), ("score_product", score_product),
                         ("score_ease", score_ease)):
        if value is not None:
            _check_score(value, 0, 100, field)
    comment = (comment or "").strip()
    if len(comment) > SurveyResponse._meta.get_field("comment").max_length:
        raise ApplicationError.invalid(_("The comment is too long."), field="comment")
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                invitation=invitation, customer=invitation.customer, csat=csat, nps=nps,
                score_service=score_service, score_product=score_product, score_ease=score_ease,
                comment=comment, submitted_at=now,
            )
    except IntegrityError as error:
        raise SurveyAlreadyAnswered() from error
    response.topics.set(feedback_topics_match(comment=comment))
    if response.is_dissatisfied:
        _follow_up_open(response=response)
    return response


def _check_score(value, low: int, high: int, field: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApplicationError.invalid(
            _("Choose a value from %(low)d to %(high)d.") % {"low": low, "high": high}, field=field
        )


def _follow_up_open(*, response: SurveyResponse) -> FollowUpTask:
    customer = response.customer
    return FollowUpTask.objects.create(
        customer=customer,
        response=response,
        assigned_to_id=customer.relationship_manager_id,
        due_on=workdays.working_days_add(timezone.localdate(response.submitted_at),
                                         service_policy_latest().follow_up_due_working_days),
    )


@transaction.atomic
def survey_response_topics_set(*, response: SurveyResponse, topics: list[FeedbackTopic], by: User) -> SurveyResponse:
    """Replace the response's feedback topics with the ones staff chose (re-tagging the tagger's guess).

    The caller has fetched ``response`` through selectors.survey_response_get_visible_to for ``by``.
    """
    if not permissions.can_retag_feedback(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    response.topics.set(topics)
    response.topics_edited_by = by
    response.topics_edited_at = timezone.now()
    response.save(update_fields=["topics_edited_by", "topics_edited_at"])
    return response


# --- Follow-up tasks ------------------------------------------------------------------------


@transaction.atomic
def follow_up_finish(*, task: FollowUpTask, to_status: str, by: User, note: str = "") -> FollowUpTask:
    """Move an open follow-up to "done" (the RM talked to the customer) or "closed"; leave an event.

    The caller has fetched ``task`` through selectors.follow_up_get_visible_to for ``by``.
    """
    if not permissions.can_work_follow_ups(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    task = FollowUpTask.objects.select_for_update().get(pk=task.pk)
    if to_status not in FollowUpTask.TRANSITIONS.get(task.status, set()):
        raise ApplicationError(ErrorCode.INVALID_TRANSITION)
    note = (note or "").strip()
    if len(note) > FollowUpTask._meta.get_field("note").max_length:
        raise ApplicationError.invalid(_("The note is too long."), field="note")
    if to_status == FollowUpTask.Status.CLOSED and not note:
        raise ApplicationError.invalid(_("Say why the follow-up is closed without contacting the customer."),
                                       field="note")
    from_status = task.status
    task.status = to_status
    task.note = note
    task.finished_at = timezone.now()
    task.finished_by = by
    task.save(update_fields=["status", "note", "finished_at", "finished_by"])
    FollowUpTaskEvent.objects.create(task=task, from_status=from_status, to_status=to_status, by=by, note=note)
    return task
