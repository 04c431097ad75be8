"""Complaint services: SLA arithmetic, the status machine, the breach scan, closing the loop."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import translation

from accounts.models import Role
from complaints import selectors, services
from complaints.models import (
    Complaint,
    ComplaintAction,
    ComplaintEvent,
    ComplaintEventKind,
    ComplaintSeverity,
    ComplaintStatus,
    RootCause,
    SlaPolicy,
    SlaRule,
    SlaState,
    sla_state_at,
)
from core import notifications
from core.errors import ApplicationError, ErrorCode
from core.models import Notification
from service.models import SurveyInvitation
from tests.accounts.factories import BranchFactory
from tests.complaints.factories import category, make_complaint
from tests.customers.factories import CustomerFactory

T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(user_for_role):
    return user_for_role("complaint_desk")


# --- SLA arithmetic -----------------------------------------------------------------------------


def test_default_policy_sets_24h_and_48h_deadlines_and_is_stamped(branch):
    complaint = make_complaint(branch=branch, received_at=T0)
    assert complaint.first_response_due_at == T0 + timedelta(hours=24)
    assert complaint.resolution_due_at == T0 + timedelta(hours=48)
    assert complaint.sla_policy.version == 1
    assert complaint.sla_rule is None
    assert re.fullmatch(r"TS20261128-\d{6}", complaint.reference)


@pytest.mark.parametrize(("elapsed", "expected"), [
    (timedelta(hours=23, minutes=59, seconds=59), SlaState.CRITICAL),
    (timedelta(hours=24), SlaState.OVERDUE),
    (timedelta(hours=18) - timedelta(seconds=1), SlaState.ON_TRACK),
    (timedelta(hours=18), SlaState.WARNING),  # 75 % of 24 h
    (timedelta(hours=21, minutes=36) - timedelta(seconds=1), SlaState.WARNING),
    (timedelta(hours=21, minutes=36), SlaState.CRITICAL),  # 90 % of 24 h
])
def test_first_response_clock_boundaries(branch, elapsed, expected):
    complaint = make_complaint(branch=branch, received_at=T0)
    assert complaint.sla_state(now=T0 + elapsed) == expected


def test_sla_state_for_a_done_clock():
    due = T0 + timedelta(hours=48)
    assert sla_state_at(started_at=T0, due_at=due, done_at=due - timedelta(seconds=1), now=due) == SlaState.MET
    assert sla_state_at(started_at=T0, due_at=due, done_at=due, now=due) == SlaState.MISSED


def test_rule_for_category_and_severity_overrides_and_most_specific_wins(branch):
    policy = SlaPolicy.objects.get(version=1)
    SlaRule.objects.create(policy=policy, severity=ComplaintSeverity.CRITICAL, first_response_minutes=120,
                           resolution_minutes=720)
    SlaRule.objects.create(policy=policy, category=category("B03"), first_response_minutes=600,
                           resolution_minutes=1440)
    exact = SlaRule.objects.create(policy=policy, category=category("B0302"), severity=ComplaintSeverity.CRITICAL,
                                   first_response_minutes=60, resolution_minutes=240)
    critical_card = make_complaint(branch=branch, received_at=T0, severity=ComplaintSeverity.CRITICAL)
    assert critical_card.sla_rule == exact
    assert critical_card.first_response_due_at == T0 + timedelta(hours=1)
    debit_card = make_complaint(branch=branch, received_at=T0, category_code="B0301")
    assert debit_card.resolution_due_at == T0 + timedelta(hours=24)  # the parent B03 rule
    critical_loan = make_complaint(branch=branch, received_at=T0, category_code="B0201",
                                   severity=ComplaintSeverity.CRITICAL)
    assert critical_loan.first_response_due_at == T0 + timedelta(hours=2)


def test_a_new_policy_version_applies_to_new_complaints_only(branch):
    old = make_complaint(branch=branch, received_at=T0)
    SlaPolicy.objects.create(version=2, effective_from=T0 + timedelta(hours=1), first_response_minutes=12 * 60,
                             resolution_minutes=36 * 60)
    new = make_complaint(branch=branch, received_at=T0 + timedelta(hours=2))
    old.refresh_from_db()
    assert (old.sla_policy.version, old.resolution_due_at) == (1, T0 + timedelta(hours=48))
    assert (new.sla_policy.version, new.resolution_due_at) == (2, T0 + timedelta(hours=38))


# --- Logging --------------------------------------------------------------------------------------


def test_walk_in_needs_a_name_and_phone(branch, desk):
    with pytest.raises(ApplicationError) as error:
        services.complaint_create(by=desk, branch=branch, channel="branch", category=category(),
                                  severity="medium", description="x", contact_name="", contact_phone="")
    assert "contact_name" in error.value.field_errors
    assert not Complaint.objects.exists()


def test_rm_may_not_log_a_complaint(branch, user_for_role):
    with pytest.raises(ApplicationError) as error:
        make_complaint(branch=branch, by=user_for_role("rm"))
    assert error.value.code == ErrorCode.PERMISSION_DENIED


def test_desk_may_not_log_a_walk_in_for_another_branch(branch, desk):
    other = BranchFactory(code="B0909", name="Haidian Branch")
    with pytest.raises(ApplicationError) as error:
        make_complaint(branch=other, by=desk)
    assert error.value.field_errors.keys() == {"branch"}
    assert not Complaint.objects.exists()


def test_desk_logs_for_its_own_branch_and_for_a_customer_it_found(branch, desk):
    other = BranchFactory(code="B0909", name="Haidian Branch")
    customer_elsewhere = CustomerFactory(branch=other)
    walk_in = make_complaint(branch=branch, by=desk)
    for_customer = make_complaint(customer=customer_elsewhere, by=desk)
    assert (walk_in.branch, for_customer.branch) == (branch, other)


def test_head_office_may_log_for_any_branch(branch, user_for_role):
    other = BranchFactory(code="B0909", name="Haidian Branch")
    assert make_complaint(branch=other, by=user_for_role("admin")).branch == other


def test_references_are_unique(branch):
    references = {make_complaint(branch=branch, received_at=T0).reference for _ in range(5)}
    assert len(references) == 5


# --- The status machine: the whole matrix ------------------------------------------------------------

STATUS_PATHS = {
    ComplaintStatus.RECEIVED: [],
    ComplaintStatus.ACKNOWLEDGED: [ComplaintAction.ACKNOWLEDGE],
    ComplaintStatus.INVESTIGATING: [ComplaintAction.ACKNOWLEDGE, ComplaintAction.INVESTIGATE],
    ComplaintStatus.ESCALATED: [ComplaintAction.ESCALATE],
    ComplaintStatus.RESOLVED: [ComplaintAction.ACKNOWLEDGE, ComplaintAction.RESOLVE],
    ComplaintStatus.CLOSED: [ComplaintAction.ACKNOWLEDGE, ComplaintAction.RESOLVE, ComplaintAction.CLOSE],
}


# Written out by hand from the complaint handling procedure (not read from TRANSITIONS), so a change
# to the machine in complaints/models.py fails here until this table is changed on purpose.
# (status, action) -> the status it moves to; a pair missing here is refused.
EXPECTED_MOVES = {
    ("received", "acknowledge"): "acknowledged", ("escalated", "acknowledge"): "acknowledged",
    ("acknowledged", "investigate"): "investigating", ("escalated", "investigate"): "investigating",
    ("received", "escalate"): "escalated", ("acknowledged", "escalate"): "escalated",
    ("investigating", "escalate"): "escalated",
    ("acknowledged", "resolve"): "resolved", ("investigating", "resolve"): "resolved",
    ("escalated", "resolve"): "resolved",
    ("resolved", "close"): "closed",
    ("resolved", "reopen"): "investigating", ("closed", "reopen"): "investigating",
}


def test_expected_moves_name_every_action_and_status():
    assert {action for _status, action in EXPECTED_MOVES} == {action.value for action in ComplaintAction}
    assert {status for status, _action in EXPECTED_MOVES} | set(EXPECTED_MOVES.values()) == {
        status.value for status in ComplaintStatus}


def _act(complaint, action, by, now):
    return services.complaint_transition(complaint=complaint, action=action, by=by, now=now,
                                         resolution="退还年费", root_cause=RootCause.RULES)


@pytest.mark.parametrize("status", list(ComplaintStatus))
@pytest.mark.parametrize("action", list(ComplaintAction))
def test_transition_matrix(branch, desk, status, action):
    complaint = make_complaint(branch=branch, received_at=T0)
    now = T0 + timedelta(hours=1)
    for step in STATUS_PATHS[status]:
        complaint = _act(complaint, step, desk, now)
    assert complaint.status == status
    events_before = ComplaintEvent.objects.filter(complaint=complaint).count()
    to_status = EXPECTED_MOVES.get((status.value, action.value))
    if to_status is not None:
        moved = _act(complaint, action, desk, now + timedelta(minutes=5))
        assert moved.status == to_status
        event = ComplaintEvent.objects.filter(complaint=complaint,
                                              kind=services.EVENT_KIND_BY_ACTION[action]).order_by("-id").first()
        assert (event.from_status, event.to_status, event.actor_id) == (status, to_status, desk.pk)
        assert moved.version == complaint.version + 1
    else:
        with pytest.raises(ApplicationError) as error:
            _act(complaint, action, desk, now + timedelta(minutes=5))
        assert error.value.code == ErrorCode.INVALID_TRANSITION
        assert error.value.http_status == 409
        complaint.refresh_from_db()
        assert complaint.status == status
        assert ComplaintEvent.objects.filter(complaint=complaint).count() == events_before


def test_first_response_is_set_once(branch, desk):
    complaint = make_complaint(branch=branch, received_at=T0)
    complaint = services.complaint_acknowledge(complaint=complaint, by=desk, now=T0 + timedelta(hours=2))
    complaint = services.complaint_investigate(complaint=complaint, by=desk, now=T0 + timedelta(hours=3))
    complaint = services.complaint_resolve(complaint=complaint, by=desk, resolution="ok", root_cause="C01",
                                           now=T0 + timedelta(hours=4))
    assert complaint.first_response_at == T0 + timedelta(hours=2)
    assert complaint.resolved_at == T0 + timedelta(hours=4)


def test_stale_expected_version_is_a_conflict(branch, desk):
    complaint = make_complaint(branch=branch, received_at=T0)
    services.complaint_acknowledge(complaint=complaint, by=desk, expected_version=1)
    with pytest.raises(ApplicationError) as error:
        services.complaint_escalate(complaint=complaint, by=desk, expected_version=1)
    assert error.value.code == ErrorCode.CONFLICT


def test_resolve_needs_resolution_and_root_cause(branch, desk):
    complaint = services.complaint_acknowledge(complaint=make_complaint(branch=branch), by=desk)
    with pytest.raises(ApplicationError) as error:
        services.complaint_resolve(complaint=complaint, by=desk, resolution="", root_cause="C01")
    assert "resolution" in error.value.field_errors
    with pytest.raises(ApplicationError) as error:
        services.complaint_resolve(complaint=complaint, by=desk, resolution="ok", root_cause="nope")
    assert "root_cause" in error.value.field_errors


def test_reopen_within_the_window_restarts_the_resolution_clock(branch, desk):
    complaint = make_complaint(branch=branch, received_at=T0)
    for action in (ComplaintAction.ACKNOWLEDGE, ComplaintAction.RESOLVE):
        complaint = _act(complaint, action, desk, T0 + timedelta(hours=1))
    reopened_at = T0 + timedelta(hours=1, days=30)
    complaint = services.complaint_reopen(complaint=complaint, by=desk, now=reopened_at)
    assert complaint.status == ComplaintStatus.INVESTIGATING
    assert complaint.resolved_at is None
    assert complaint.resolution_due_at == reopened_at + timedelta(hours=48)
    assert complaint.reopen_count == 1


def test_reopen_after_the_window_is_refused(branch, desk):
    complaint = make_complaint(branch=branch, received_at=T0)
    for action in (ComplaintAction.ACKNOWLEDGE, ComplaintAction.RESOLVE):
        complaint = _act(complaint, action, desk, T0 + timedelta(hours=1))
    with pytest.raises(ApplicationError) as error:
        services.complaint_reopen(complaint=complaint, by=desk, now=T0 + timedelta(hours=1, days=30, seconds=1))
    assert error.value.code == ErrorCode.INVALID_TRANSITION
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RESOLVED


def test_manual_escalation_notifies_the_branch_managers(branch, desk, make_user):
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    complaint = make_complaint(branch=branch)
    services.complaint_escalate(complaint=complaint, by=desk, note="VIP")
    notification = Notification.objects.get()
    assert notification.recipient == manager
    assert notification.kind == "complaints.escalated"
    assert notification.url == f"/complaints/{complaint.reference}/"
    # the message renders in the reader's language, from the stored kind and reference
    with translation.override("zh-hans"):
        assert notifications.notification_text(notification) == f"投诉 {complaint.reference} 已升级给您。"
    with translation.override("en"):
        assert notifications.notification_text(notification) == f"Complaint {complaint.reference} was escalated to you."
    assert selectors.notification_unread_count(user=manager) == 1
    # opening the complaint marks it read; the desk clerk got nothing
    services.complaint_notifications_mark_read(complaint=complaint, user=manager)
    assert selectors.notification_unread_count(user=manager) == 0
    assert not Notification.objects.filter(recipient=desk).exists()


# --- Closing the loop ---------------------------------------------------------------------------------


def test_resolving_a_customer_complaint_sends_a_survey(customer, desk):
    complaint = services.complaint_acknowledge(complaint=make_complaint(customer=customer), by=desk)
    services.complaint_resolve(complaint=complaint, by=desk, resolution="已退还", root_cause="C02")
    invitation = SurveyInvitation.objects.get()
    assert (invitation.customer, invitation.trigger, invitation.reference) == (customer, "complaint",
                                                                                complaint.reference)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEventKind.SURVEY_SENT).exists()


def test_walk_in_gets_no_survey_until_linked(branch, customer, desk):
    complaint = services.complaint_acknowledge(complaint=make_complaint(branch=branch), by=desk)
    complaint = services.complaint_resolve(complaint=complaint, by=desk, resolution="ok", root_cause="C01")
    assert not SurveyInvitation.objects.exists()
    services.complaint_link_customer(complaint=complaint, customer=customer, by=desk)
    assert SurveyInvitation.objects.get().reference == complaint.reference


def test_public_reopen_checks_the_phone(branch, desk):
    complaint = make_complaint(branch=branch, contact_name="李娜", contact_phone="138-0000-4321")
    for action in (ComplaintAction.ACKNOWLEDGE, ComplaintAction.RESOLVE):
        complaint = _act(complaint, action, desk, None)
    with pytest.raises(ApplicationError):
        services.complaint_public_reopen(complaint=complaint, phone_last4="1234", reason="还是没解决")
    reopened = services.complaint_public_reopen(complaint=complaint, phone_last4="4321", reason="还是没解决")
    assert reopened.status == ComplaintStatus.INVESTIGATING
    event = ComplaintEvent.objects.filter(complaint=complaint).order_by("-id").first()
    assert (event.kind, event.actor_label, event.customer_visible) == (ComplaintEventKind.REOPENED, "customer", True)


# --- Breach scan -----------------------------------------------------------------------------------


def test_scan_flags_at_the_deadline_not_before(branch):
    complaint = make_complaint(branch=branch, received_at=T0)
    assert services.complaint_breach_scan(now=T0 + timedelta(hours=24) - timedelta(seconds=1)) == {
        "first_response": 0, "resolution": 0}
    assert services.complaint_breach_scan(now=T0 + timedelta(hours=24)) == {"first_response": 1, "resolution": 0}
    complaint.refresh_from_db()
    assert complaint.first_response_breached_at == T0 + timedelta(hours=24)
    assert complaint.status == ComplaintStatus.ESCALATED


def test_scan_catches_up_after_downtime_and_never_flags_twice(branch, make_user):
    make_user(Role.BRANCH_MANAGER, username="bm")
    complaints = [make_complaint(branch=branch, received_at=T0 + timedelta(minutes=i)) for i in range(3)]
    resolved = complaints[2]
    desk = make_user(Role.COMPLAINT_DESK, username="desk")
    services.complaint_acknowledge(complaint=resolved, by=desk, now=T0 + timedelta(hours=1))
    services.complaint_resolve(complaint=resolved, by=desk, resolution="ok", root_cause="C01",
                               now=T0 + timedelta(hours=2))
    # beat was down for three days
    later = T0 + timedelta(days=3)
    assert services.complaint_breach_scan(now=later) == {"first_response": 2, "resolution": 2}
    assert services.complaint_breach_scan(now=later + timedelta(minutes=1)) == {"first_response": 0, "resolution": 0}
    breach_kinds = (ComplaintEventKind.FIRST_RESPONSE_BREACHED, ComplaintEventKind.RESOLUTION_BREACHED)
    assert ComplaintEvent.objects.filter(kind__in=breach_kinds).count() == 4
    # one manager, one message per breach, each kind its own message
    assert sorted(Notification.objects.values_list("kind", flat=True)) == [
        "complaints.first_response_breached", "complaints.first_response_breached",
        "complaints.resolution_breached", "complaints.resolution_breached"]


def test_scan_batches_through_a_large_backlog(branch):
    for i in range(7):
        make_complaint(branch=branch, received_at=T0 + timedelta(seconds=i))
    counts = services.complaint_breach_scan(now=T0 + timedelta(days=5), batch_size=3)
    assert counts == {"first_response": 7, "resolution": 7}


# --- Demo data -------------------------------------------------------------------------------------


def test_demo_seed_is_realistic_and_consistent(branch):
    from complaints.demo import demo_seed_complaints
    from tests.customers.factories import CustomerFactory, ProductFactory

    CustomerFactory.create_batch(30, branch=branch)
    ProductFactory.create_batch(3)
    as_of = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
    result = demo_seed_complaints(seed=7, as_of=as_of, count=400)
    assert result["complaints"] == 400 == Complaint.objects.count()
    assert result.get("resolved", 0) + result.get("closed", 0) > 250
    assert result.get("escalated", 0) > 0
    assert Complaint.objects.exclude(root_cause="").filter(resolved_at__isnull=False).count() == \
        Complaint.objects.filter(resolved_at__isnull=False).count()
    # every complaint has its "created" event; the breach scan finds nothing left to flag
    assert ComplaintEvent.objects.filter(kind=ComplaintEventKind.CREATED).count() == 400
    assert services.complaint_breach_scan(now=as_of) == {"first_response": 0, "resolution": 0}


# --- Review fixes: survey pending, reopen keeps the miss, scan batches, SLA versions ---------------


def test_resolving_a_walk_in_records_that_the_survey_waits_for_the_link(branch, customer, desk):
    """Given an unidentified complainant, resolving records why no survey went out; linking sends it."""
    complaint = services.complaint_acknowledge(complaint=make_complaint(branch=branch), by=desk)
    services.complaint_resolve(complaint=complaint, by=desk, resolution="ok", root_cause="C01")
    pending = ComplaintEvent.objects.get(complaint=complaint, kind=ComplaintEventKind.SURVEY_PENDING)
    assert pending.note == "complainant not identified: link the customer to send the survey"
    assert not pending.customer_visible
    assert list(Complaint.objects.survey_pending()) == [complaint]
    services.complaint_link_customer(complaint=complaint, customer=customer, by=desk)
    assert ComplaintEvent.objects.filter(complaint=complaint, kind=ComplaintEventKind.SURVEY_SENT).exists()
    assert not Complaint.objects.survey_pending().exists()


def _resolved_late_then_reopened(branch, desk):
    """Received T0 (due T0+48h), flagged at T0+49h, resolved T0+50h, reopened T0+51h."""
    complaint = make_complaint(branch=branch, received_at=T0)
    services.complaint_acknowledge(complaint=complaint, by=desk, now=T0 + timedelta(hours=1))
    assert services.complaint_breach_scan(now=T0 + timedelta(hours=49))["resolution"] == 1
    services.complaint_resolve(complaint=complaint, by=desk, resolution="ok", root_cause="C01",
                               now=T0 + timedelta(hours=50))
    return services.complaint_reopen(complaint=complaint, by=desk, now=T0 + timedelta(hours=51))


def test_reopening_keeps_the_original_breach_and_deadline(branch, desk):
    """Given a resolution that missed its deadline, reopening restarts the clock but never erases the miss."""
    reopened = _resolved_late_then_reopened(branch, desk)
    assert reopened.resolution_breached_at == T0 + timedelta(hours=49)
    assert reopened.original_resolution_due_at == T0 + timedelta(hours=48)
    assert reopened.resolution_due_at == T0 + timedelta(hours=99)
    assert list(Complaint.objects.breached()) == [reopened]
    # resolved again well within the new clock: still not "resolved within due"
    resolved = services.complaint_resolve(complaint=reopened, by=desk, resolution="ok", root_cause="C01",
                                          now=T0 + timedelta(hours=52))
    assert resolved.resolution_met is False
    assert resolved.sla_state(now=T0 + timedelta(hours=53)) == SlaState.MISSED
    assert resolved.first_resolved_at == T0 + timedelta(hours=50)


def test_a_reopened_clock_is_flagged_once_and_the_first_breach_time_stays(branch, desk):
    reopened = _resolved_late_then_reopened(branch, desk)
    later = T0 + timedelta(hours=100)  # the reopened clock (due T0+99h) ran out too
    assert services.complaint_breach_scan(now=later)["resolution"] == 1
    assert services.complaint_breach_scan(now=later + timedelta(minutes=1))["resolution"] == 0
    reopened.refresh_from_db()
    assert reopened.resolution_breached_at == T0 + timedelta(hours=49)
    assert ComplaintEvent.objects.filter(complaint=reopened, kind=ComplaintEventKind.RESOLUTION_BREACHED).count() == 2


def test_hotspot_compliance_counts_the_original_miss_and_only_settled_first_responses(branch, desk,
                                                                                      user_for_role):
    """Resolution: a reopened late complaint is a miss. First response: a clock still within due is not counted."""
    from complaints import selectors

    _resolved_late_then_reopened(branch, desk)
    reopened = Complaint.objects.get()
    services.complaint_resolve(complaint=reopened, by=desk, resolution="ok", root_cause="C01",
                               now=T0 + timedelta(hours=52))
    make_complaint(branch=branch, received_at=T0 + timedelta(hours=52))  # first response not due until T0+76h
    report = selectors.complaint_hotspots(user=user_for_role("admin"), dimension="category", start=T0.date(),
                                          end=(T0 + timedelta(days=3)).date(), now=T0 + timedelta(hours=53))
    assert report["resolution_compliance_pct"] == 0.0
    assert report["breached"] == 1
    assert report["first_response_compliance_pct"] == 100.0  # 1 answered on time / 1 settled, not 1 / 2


def test_breach_event_records_the_status_it_moved_from(branch, desk):
    complaint = services.complaint_acknowledge(complaint=make_complaint(branch=branch, received_at=T0), by=desk,
                                               now=T0 + timedelta(hours=1))
    services.complaint_breach_scan(now=T0 + timedelta(hours=48))
    event = ComplaintEvent.objects.get(complaint=complaint, kind=ComplaintEventKind.RESOLUTION_BREACHED)
    assert (event.from_status, event.to_status) == (ComplaintStatus.ACKNOWLEDGED, ComplaintStatus.ESCALATED)


def test_a_scan_stopped_by_its_time_limit_keeps_the_batches_it_finished(branch, monkeypatch):
    """Given a backlog of 7 and batches of 3, when the time limit hits in batch 2, batch 1 stays flagged."""
    from celery.exceptions import SoftTimeLimitExceeded

    for i in range(7):
        make_complaint(branch=branch, received_at=T0 + timedelta(seconds=i))
    record = services._record_breaches
    calls = []

    def record_then_time_out(**kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded  # the clock (Celery's soft limit) is the boundary
        record(**kwargs)

    monkeypatch.setattr(services, "_record_breaches", record_then_time_out)
    with pytest.raises(SoftTimeLimitExceeded):
        services.complaint_breach_scan(now=T0 + timedelta(days=5), batch_size=3)
    assert Complaint.objects.filter(first_response_breached_at__isnull=False).count() == 3
    monkeypatch.setattr(services, "_record_breaches", record)
    assert services.complaint_breach_scan(now=T0 + timedelta(days=5), batch_size=3) == {
        "first_response": 4, "resolution": 7}


def test_sla_policy_version_create_numbers_audits_and_refuses_the_past(user_for_role):
    from core.models import AuditEvent

    admin = user_for_role("admin")
    now = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    fields = {"first_response_minutes": 600, "resolution_minutes": 1440, "warning_pct": 70, "critical_pct": 90,
              "reopen_window_days": 15}
    with pytest.raises(ApplicationError) as error:
        services.sla_policy_version_create(by=admin, effective_from=now - timedelta(seconds=1), now=now, **fields)
    assert "effective_from" in error.value.field_errors
    assert SlaPolicy.objects.count() == 1
    policy = services.sla_policy_version_create(by=admin, effective_from=now + timedelta(hours=1), now=now, **fields)
    assert (policy.version, policy.created_by) == (2, admin)
    audit = AuditEvent.objects.get(action=services.AUDIT_SLA_POLICY_CREATE)
    assert audit.detail["version"] == 2
