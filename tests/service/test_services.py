"""Service records, survey invitations and answers, follow-ups: the rules of service/services.py."""

import hashlib
from datetime import date, datetime, time, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.models import Role
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent, OutboxMessage
from service import services, tasks
from service.models import (
    FeedbackTopic,
    FollowUpTask,
    FollowUpTaskEvent,
    OutboundMessage,
    ServiceOutcome,
    ServiceRecord,
    SurveyInvitation,
    SurveyResponse,
    Touchpoint,
)
from tests.customers.factories import CustomerFactory
from tests.service.factories import (
    SurveyResponseFactory,
    invitation_with_token,
    touchpoint,
)


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_a")


@pytest.fixture
def customer(branch, rm):
    return CustomerFactory(branch=branch, relationship_manager=rm, phone="13812345678")


def record(customer, by, *, code="consultation", minutes=10, outcome=ServiceOutcome.COMPLETED, **kwargs):
    ended_at = timezone.now() - timedelta(minutes=1)
    return services.service_record_create(
        customer=customer, by=by, touchpoint=touchpoint(code), started_at=ended_at - timedelta(minutes=minutes),
        ended_at=ended_at, outcome=outcome, **kwargs,
    )


# --- Seeded touchpoints and topics ----------------------------------------------------------


def test_data_migration_seeds_the_five_touchpoints_with_standards(db):
    """MANUAL 3.1: account opening, consultation, wealth management, transfer, complaint, each with an SOP."""
    touchpoints = {t.code: t for t in Touchpoint.objects.all()}
    assert set(touchpoints) >= {"account_opening", "consultation", "wealth_management", "transfer", "complaint"}
    for item in touchpoints.values():
        assert item.sop_steps and item.target_minutes > 0 and item.owner_role
    opening_steps = " ".join(touchpoints["account_opening"].sop_steps).lower()
    assert "identity" in opening_steps and "risk assessment" in opening_steps and "documents" in opening_steps
    assert touchpoints["complaint"].owner_role == Role.COMPLAINT_DESK


def test_data_migration_seeds_feedback_topics(db):
    assert FeedbackTopic.objects.filter(code="slow_response", is_active=True).exists()
    assert FeedbackTopic.objects.count() >= 5


# --- Service records ------------------------------------------------------------------------


def test_record_stores_handling_time_and_the_standard_in_force(customer, rm):
    """Given consultation's 15-minute standard, a 20-minute service is an overrun; 10 minutes is not."""
    with transaction.atomic():
        slow = record(customer, rm, minutes=20, steps_completed=touchpoint().sop_steps[:2])
        quick = record(customer, rm, minutes=10)

    assert slow.handling_seconds == 20 * 60 and slow.target_minutes == 15
    assert slow.is_overrun and not quick.is_overrun
    assert slow.staff == rm and slow.branch_id == customer.branch_id
    assert list(ServiceRecord.objects.overrun()) == [slow]


def test_exactly_the_target_is_not_an_overrun(customer, rm):
    assert not record(customer, rm, minutes=15).is_overrun


def test_changing_the_standard_later_does_not_rewrite_past_overruns(customer, rm):
    slow = record(customer, rm, minutes=20)
    Touchpoint.objects.filter(code="consultation").update(target_minutes=30)

    slow.refresh_from_db()
    assert slow.is_overrun and slow.target_minutes == 15


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"minutes": -5}, "ended_at"),
        ({"steps_completed": ["Not a step"]}, "steps_completed"),
        ({"outcome": "won"}, "outcome"),
        ({"minutes": 13 * 60}, "ended_at"),
    ],
)
def test_record_refuses_invalid_input(customer, rm, kwargs, field):
    with pytest.raises(ApplicationError) as error:
        record(customer, rm, **kwargs)
    assert field in error.value.field_errors
    assert not ServiceRecord.objects.exists()


def test_record_refuses_a_retired_touchpoint_and_a_future_end(customer, rm):
    Touchpoint.objects.filter(code="transfer").update(is_active=False)
    with pytest.raises(ApplicationError):
        record(customer, rm, code="transfer")
    with pytest.raises(ApplicationError):
        services.service_record_create(
            customer=customer, by=rm, touchpoint=touchpoint(), started_at=timezone.now(),
            ended_at=timezone.now() + timedelta(hours=1), outcome=ServiceOutcome.COMPLETED,
        )
    assert not ServiceRecord.objects.exists()


def test_auditor_cannot_record_a_service(customer, make_user):
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud")
    with pytest.raises(ApplicationError) as error:
        record(customer, auditor)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    assert not ServiceRecord.objects.exists()


def test_completed_service_sends_a_survey_and_queues_the_sms(customer, rm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        service_record = record(customer, rm)

    invitation = SurveyInvitation.objects.get()
    assert invitation.trigger == SurveyInvitation.Trigger.SERVICE
    assert invitation.reference == str(service_record.pk) and invitation.service_record == service_record
    message = OutboundMessage.objects.get()
    assert message.invitation == invitation and message.status == OutboundMessage.Status.QUEUED
    assert message.recipient_masked == "138****5678" and "13812345678" not in message.body
    assert OutboxMessage.objects.filter(task_name=services.OUTBOUND_SEND_TASK,
                                        kwargs={"message_id": message.pk}).exists()


@pytest.mark.parametrize(("outcome", "send_survey"), [(ServiceOutcome.ABANDONED, True),
                                                       (ServiceOutcome.COMPLETED, False)])
def test_no_survey_for_an_unfinished_service_or_when_declined(customer, rm, outcome, send_survey):
    record(customer, rm, outcome=outcome, send_survey=send_survey)
    assert not SurveyInvitation.objects.exists() and not OutboundMessage.objects.exists()


def test_external_reference_is_unique(customer, rm):
    record(customer, rm, external_ref="QMS-1")
    with pytest.raises(ApplicationError) as error:
        record(customer, rm, external_ref="QMS-1")
    assert error.value.code == ErrorCode.CONFLICT
    assert ServiceRecord.objects.count() == 1


# --- survey_send (the interface complaints calls) -------------------------------------------


def _raw_rows(table: str, pk: int) -> str:
    """Every column of one row as the database holds it (no model field decrypts anything)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return repr(cursor.fetchall())


def test_survey_send_stores_only_the_token_hash_and_keeps_the_link_encrypted(customer, rm):
    """Given an invitation, no column holds the raw token in plain text; the SMS text still carries the link."""
    invitation = services.survey_send(customer=customer, trigger="complaint", reference="TS-2026-0001", by=rm)

    token = invitation.token
    assert len(token) >= 43
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert abs(invitation.expires_at - invitation.created_at - timedelta(days=14)) < timedelta(seconds=1)
    message = OutboundMessage.objects.get(invitation=invitation)
    assert token not in _raw_rows("service_surveyinvitation", invitation.pk)
    assert token not in _raw_rows("service_outboundmessage", message.pk)
    assert token not in message.body and OutboundMessage.LINK_PLACEHOLDER in message.body
    assert "TS-2026-0001" in message.body and message.channel == OutboundMessage.Channel.SMS
    # the encrypted link decrypts to the real one, which the send puts in place of the placeholder
    assert message.link.endswith(f"/public/surveys/{token}/")
    assert f"/public/surveys/{token}/" in message.text_to_send and "[link]" not in message.text_to_send


def test_the_send_task_clears_the_link(customer, django_capture_on_commit_callbacks):
    """Once the SMS is sent, the link (and so the token) is gone from the database."""
    message = services.survey_send(customer=customer, trigger="service", reference="1").messages.get()
    assert message.link

    tasks.outbound_message_send_task(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.SENT and message.link == ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT link FROM service_outboundmessage WHERE id = %s", [message.pk])
        assert cursor.fetchone() == ("",)


def test_the_send_task_clears_the_link_of_a_message_that_failed(customer):
    """A message marked failed elsewhere (a gateway refusal) keeps no link once the task sees it."""
    message = services.survey_send(customer=customer, trigger="service", reference="1").messages.get()
    OutboundMessage.objects.filter(pk=message.pk).update(status=OutboundMessage.Status.FAILED,
                                                        failure_reason="gateway refused")

    tasks.outbound_message_send_task(message_id=message.pk)

    message.refresh_from_db()
    assert message.status == OutboundMessage.Status.FAILED and message.link == ""


def test_a_message_that_cannot_be_sent_never_stores_the_link(branch):
    customer = CustomerFactory(branch=branch, phone=None)
    message = services.survey_send(customer=customer, trigger="service").messages.get()
    assert message.status == OutboundMessage.Status.FAILED and message.link == ""


def test_tokens_are_unique_and_unpredictable(customer):
    tokens = {
        services.survey_send(customer=customer, trigger="service", reference=str(n)).token for n in range(20)
    }
    assert len(tokens) == 20


def test_survey_send_for_the_same_open_reference_returns_the_first_invitation(customer):
    first = services.survey_send(customer=customer, trigger="complaint", reference="TS-1")
    again = services.survey_send(customer=customer, trigger="complaint", reference="TS-1")

    assert again.pk == first.pk and again.token is None
    assert OutboundMessage.objects.count() == 1


def test_survey_send_refuses_an_unknown_trigger(customer):
    with pytest.raises(ApplicationError):
        services.survey_send(customer=customer, trigger="marketing")
    assert not SurveyInvitation.objects.exists()


def test_survey_to_a_customer_without_phone_is_recorded_as_not_sent(branch):
    customer = CustomerFactory(branch=branch, phone=None)
    invitation = services.survey_send(customer=customer, trigger="service")
    message = invitation.messages.get()
    assert message.status == OutboundMessage.Status.FAILED and message.failure_reason
    assert not OutboxMessage.objects.exists()


def test_the_sms_stub_marks_the_message_sent_once(customer):
    message = services.survey_send(customer=customer, trigger="service").messages.get()

    services.outbound_message_send(message_id=message.pk)
    message.refresh_from_db()
    sent_at = message.sent_at
    services.outbound_message_send(message_id=message.pk)
    message.refresh_from_db()

    assert message.status == OutboundMessage.Status.SENT and message.sent_at == sent_at


# --- Answers --------------------------------------------------------------------------------


def answer(invitation, *, csat=4, nps=8, comment=""):
    return services.survey_response_submit(invitation=invitation, csat=csat, nps=nps, score_service=80,
                                           score_product=70, score_ease=None, comment=comment)


@pytest.mark.parametrize(
    ("csat", "nps", "follow_up"),
    [(5, 10, False), (3, 7, False), (3, 6, True), (2, 7, True), (1, 0, True), (5, 6, True), (2, 10, True)],
)
def test_dissatisfied_answers_open_a_follow_up_for_the_rm(customer, rm, csat, nps, follow_up):
    """Boundaries: NPS 6 is a detractor, 7 is not; CSAT 2 is dissatisfied, 3 is not."""
    invitation, _token = invitation_with_token(customer=customer)

    response = answer(invitation, csat=csat, nps=nps)

    assert response.is_dissatisfied is follow_up
    tasks = FollowUpTask.objects.filter(response=response)
    assert tasks.exists() is follow_up
    if follow_up:
        task = tasks.get()
        assert task.assigned_to == rm and task.status == FollowUpTask.Status.OPEN
        assert task.due_on > timezone.localdate()


def test_promoter_creates_no_follow_up(customer):
    invitation, _token = invitation_with_token(customer=customer)
    answer(invitation, csat=5, nps=10)
    assert not FollowUpTask.objects.exists()


def test_one_answer_per_invitation(customer):
    invitation, _token = invitation_with_token(customer=customer)
    answer(invitation)

    with pytest.raises(services.SurveyAlreadyAnswered):
        answer(invitation, csat=1, nps=0)
    assert SurveyResponse.objects.count() == 1 and not FollowUpTask.objects.exists()


def test_the_database_refuses_a_second_answer(customer):
    """The one-to-one constraint holds even when the service's check is bypassed."""
    first = SurveyResponseFactory(invitation__customer=customer)
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(invitation=first.invitation, customer=customer, csat=3, nps=5,
                                      submitted_at=timezone.now())


@pytest.mark.parametrize(("field", "value"), [("csat", 0), ("csat", 6), ("nps", 11), ("nps", -1)])
def test_the_database_refuses_out_of_range_scores(customer, field, value):
    invitation, _token = invitation_with_token(customer=customer)
    values = {"csat": 3, "nps": 5, field: value}
    with pytest.raises(IntegrityError), transaction.atomic():
        SurveyResponse.objects.create(invitation=invitation, customer=customer, submitted_at=timezone.now(),
                                      **values)


def test_an_expired_invitation_cannot_be_answered(customer):
    invitation, _token = invitation_with_token(customer=customer)
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=20), expires_at=timezone.now() - timedelta(seconds=1)
    )
    with pytest.raises(services.SurveyUnavailable):
        answer(invitation)
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize(("field", "value"), [("csat", 0), ("nps", 11), ("score_service", 101)])
def test_out_of_range_scores_are_refused(customer, field, value):
    invitation, _token = invitation_with_token(customer=customer)
    values = {"csat": 3, "nps": 7, field: value}
    with pytest.raises(ApplicationError) as error:
        services.survey_response_submit(invitation=invitation, **values)
    assert field in error.value.field_errors


def test_comment_keywords_tag_topics(customer):
    invitation, _token = invitation_with_token(customer=customer)
    response = answer(invitation, comment="排队等了太久，手续费也高。")  # noqa: RUF001
    assert {topic.code for topic in response.topics.all()} == {"slow_response", "fees"}


def test_staff_re_tag_an_answer_and_auditors_cannot(customer, rm, make_user):
    invitation, _token = invitation_with_token(customer=customer)
    response = answer(invitation, comment="slow queue")
    attitude = FeedbackTopic.objects.get(code="service_attitude")

    services.survey_response_topics_set(response=response, topics=[attitude], by=rm)
    assert [topic.code for topic in response.topics.all()] == ["service_attitude"]
    assert response.topics_edited_by == rm

    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud")
    with pytest.raises(ApplicationError):
        services.survey_response_topics_set(response=response, topics=[], by=auditor)
    assert response.topics.count() == 1


# --- Follow-ups -----------------------------------------------------------------------------


@pytest.fixture
def open_task(customer):
    invitation, _token = invitation_with_token(customer=customer)
    return answer(invitation, csat=1, nps=2).follow_up


def test_rm_marks_a_follow_up_done_and_an_event_is_written(open_task, rm):
    task = services.follow_up_finish(task=open_task, to_status="done", by=rm, note="Called back")

    assert task.status == FollowUpTask.Status.DONE and task.finished_by == rm and task.finished_at
    event = FollowUpTaskEvent.objects.get(task=task)
    assert (event.from_status, event.to_status, event.by) == ("open", "done", rm)


def test_closing_needs_a_reason_and_finished_tasks_stay_finished(open_task, rm):
    with pytest.raises(ApplicationError):
        services.follow_up_finish(task=open_task, to_status="closed", by=rm)
    services.follow_up_finish(task=open_task, to_status="closed", by=rm, note="Customer moved abroad")

    with pytest.raises(ApplicationError) as error:
        services.follow_up_finish(task=open_task, to_status="done", by=rm)
    assert error.value.code == ErrorCode.INVALID_TRANSITION
    assert FollowUpTaskEvent.objects.count() == 1


def test_follow_up_of_a_customer_without_rm_is_unassigned(branch):
    customer = CustomerFactory(branch=branch, relationship_manager=None)
    invitation, _token = invitation_with_token(customer=customer)
    assert answer(invitation, csat=1, nps=1).follow_up.assigned_to is None


# --- Follow-ups are due in working days (review finding 13) ---------------------------------


@pytest.mark.parametrize(("answered_on", "due_on"), [
    (date(2026, 11, 27), date(2026, 12, 2)),  # Friday → Wednesday
    (date(2026, 11, 28), date(2026, 12, 2)),  # Saturday → Wednesday
    (date(2026, 11, 29), date(2026, 12, 2)),  # Sunday → Wednesday
    (date(2026, 11, 23), date(2026, 11, 26)),  # Monday → Thursday
    (date(2026, 11, 25), date(2026, 11, 30)),  # Wednesday → Monday
    # The working-day calendar (core.workdays): holidays do not count, 调休 weekend days do.
    (date(2026, 2, 12), date(2026, 2, 24)),  # Thu before 春节 → Fri 13, Sat 14 (worked), Tue 24
    (date(2026, 9, 30), date(2026, 10, 10)),  # Wed before 国庆 → Thu 8, Fri 9, Sat 10 (worked)
])
def test_follow_up_is_due_three_working_days_after_the_answer(customer, time_machine, answered_on, due_on):
    """The thank-you page promises contact "within three working days": weekends do not count."""
    time_machine.move_to(datetime.combine(answered_on, time(16, 30), tzinfo=timezone.get_current_timezone()),
                         tick=False)
    invitation, _token = invitation_with_token(customer=customer)

    response = answer(invitation, csat=1, nps=2)

    assert response.follow_up.due_on == due_on


def test_late_friday_evening_counts_as_friday_in_local_time(customer, time_machine):
    """23:30 in Beijing on a Friday is still Friday (15:30 UTC): due the Wednesday after."""
    time_machine.move_to(datetime(2026, 11, 27, 23, 30, tzinfo=timezone.get_current_timezone()), tick=False)
    invitation, _token = invitation_with_token(customer=customer)
    assert answer(invitation, csat=1, nps=2).follow_up.due_on == date(2026, 12, 2)


# --- Touchpoint standards are changed through an audited service (review finding 12) --------


def test_touchpoint_standard_update_audits_before_and_after(make_user, customer, rm):
    """Given a 15-minute consultation standard and a record under it, raising it to 20 is audited
    and leaves the old record judged against 15."""
    admin_user = make_user(Role.ADMIN, username="admin_a")
    old_record = record(customer, rm, minutes=18)
    consultation = touchpoint("consultation")

    updated = services.touchpoint_standard_update(touchpoint=consultation, by=admin_user,
                                                  changes={"target_minutes": 20, "name": consultation.name})

    assert updated.target_minutes == 20 and touchpoint("consultation").target_minutes == 20
    event = AuditEvent.objects.get(action=services.TOUCHPOINT_UPDATE_ACTION)
    assert event.actor_id == admin_user.pk
    assert (event.target_type, event.target_id) == ("service.touchpoint", str(consultation.pk))
    assert event.detail == {"changes": {"target_minutes": {"from": 15, "to": 20}}}
    old_record.refresh_from_db()
    assert old_record.target_minutes == 15 and old_record.is_overrun


def test_touchpoint_standard_update_without_a_change_writes_nothing(make_user):
    admin_user = make_user(Role.ADMIN, username="admin_a")
    consultation = touchpoint("consultation")
    services.touchpoint_standard_update(touchpoint=consultation, by=admin_user,
                                        changes={"target_minutes": consultation.target_minutes})
    assert not AuditEvent.objects.filter(action=services.TOUCHPOINT_UPDATE_ACTION).exists()


@pytest.mark.parametrize("changes", [{"target_minutes": 0}, {"target_minutes": "20"}, {"id": 5}])
def test_touchpoint_standard_update_refuses_bad_values(make_user, changes):
    admin_user = make_user(Role.ADMIN, username="admin_a")
    with pytest.raises(ApplicationError) as error:
        services.touchpoint_standard_update(touchpoint=touchpoint(), by=admin_user, changes=changes)
    assert error.value.code == ErrorCode.INVALID
    assert touchpoint().target_minutes == 15


@pytest.mark.parametrize("role", [Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER, Role.COMPLIANCE_AUDITOR])
def test_only_admins_change_touchpoint_standards(make_user, role):
    with pytest.raises(ApplicationError) as error:
        services.touchpoint_standard_update(touchpoint=touchpoint(), by=make_user(role, username="someone"),
                                            changes={"target_minutes": 99})
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    assert touchpoint().target_minutes == 15 and not AuditEvent.objects.exists()


# --- Survey validity and follow-up due time are policy data (issue 19) ------------------------


def test_a_new_service_policy_changes_survey_validity_and_follow_up_due(customer, time_machine, make_user):
    time_machine.move_to(datetime(2026, 11, 23, 10, 0, tzinfo=timezone.get_current_timezone()), tick=False)
    policy = services.service_policy_create(by=make_user(Role.ADMIN, username="pol_admin"), survey_valid_days=7,
                                            follow_up_due_working_days=5)
    assert policy.version == 2 and AuditEvent.objects.filter(action="service.policy_create").exists()

    sent = services.survey_send(customer=customer, trigger="complaint", reference="TS-2026-0077", by=None)
    assert sent.expires_at - sent.created_at == timedelta(days=7)
    invitation, _token = invitation_with_token(customer=customer)
    response = answer(invitation, csat=1, nps=1)
    assert response.follow_up.due_on == date(2026, 11, 30)  # Monday + 5 working days


def test_only_an_admin_adds_a_service_policy(make_user):
    with pytest.raises(ApplicationError):
        services.service_policy_create(by=make_user(Role.BRANCH_MANAGER, username="pol_bm"), survey_valid_days=7)
