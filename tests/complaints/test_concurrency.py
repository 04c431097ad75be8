"""Concurrency on PostgreSQL: threads with their own connections race on one complaint / one backlog."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from accounts.models import Role
from complaints import services
from complaints.models import Complaint, ComplaintEvent, ComplaintEventKind, ComplaintStatus
from core.errors import ApplicationError
from core.models import Notification
from tests.complaints.factories import make_complaint

# serialized_rollback: restore the migrations' rows (content types, groups, the category tree and SLA
# policy) after the flush, as the other transactional tests do.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
T0 = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)


def _race(n: int, work) -> list:
    """Run work(i) in n threads released together; return each result or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as error:
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_fifty_desk_staff_resolving_at_once_exactly_one_wins(branch, make_user):
    """Given an acknowledged complaint, when 50 staff resolve it at once, one wins and 49 get a clear 409."""
    desks = [make_user(Role.COMPLAINT_DESK, username=f"desk{i}") for i in range(50)]
    complaint = make_complaint(branch=branch, received_at=T0)
    complaint = services.complaint_acknowledge(complaint=complaint, by=desks[0], now=T0 + timedelta(hours=1))

    results = _race(50, lambda i: services.complaint_resolve(
        complaint=Complaint.objects.get(pk=complaint.pk), by=desks[i], resolution=f"answer {i}",
        root_cause="C01"))

    winners = [r for r in results if isinstance(r, Complaint)]
    losers = [r for r in results if isinstance(r, ApplicationError)]
    assert len(winners) == 1 and len(losers) == 49
    assert {error.http_status for error in losers} == {409}
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RESOLVED
    assert complaint.first_response_at == T0 + timedelta(hours=1)
    kinds = Counter(ComplaintEvent.objects.filter(complaint=complaint).values_list("kind", flat=True))
    # a walk-in: one "survey pending" record, whatever the number of racers
    assert kinds == {ComplaintEventKind.CREATED: 1, ComplaintEventKind.ACKNOWLEDGED: 1, ComplaintEventKind.RESOLVED: 1,
                     ComplaintEventKind.SURVEY_PENDING: 1}
    assert complaint.version == 3


def test_sixty_mixed_transitions_with_expected_version_leave_a_consistent_timeline(branch, make_user):
    """Given a received complaint, mixed actions all sent against version 1: exactly one applies."""
    desks = [make_user(Role.COMPLAINT_DESK, username=f"d{i}") for i in range(4)]
    complaint = make_complaint(branch=branch, received_at=T0)
    actions = ["acknowledge", "escalate", "investigate", "resolve", "close", "reopen"]

    results = _race(60, lambda i: services.complaint_transition(
        complaint=Complaint.objects.get(pk=complaint.pk), action=actions[i % len(actions)], by=desks[i % 4],
        resolution="x", root_cause="C01", expected_version=1))

    winners = [r for r in results if isinstance(r, Complaint)]
    assert len(winners) == 1
    assert all(isinstance(r, ApplicationError) and r.http_status == 409 for r in results if r is not winners[0])
    complaint.refresh_from_db()
    events = list(ComplaintEvent.objects.filter(complaint=complaint).order_by("id"))
    assert len(events) == 2 and events[1].to_status == complaint.status
    assert complaint.version == 2
    first_response_expected = complaint.status == ComplaintStatus.ACKNOWLEDGED
    assert (complaint.first_response_at is not None) == first_response_expected


def test_two_concurrent_scans_flag_escalate_and_notify_each_breach_once(branch, make_user):
    make_user(Role.BRANCH_MANAGER, username="bm1")
    for i in range(40):
        make_complaint(branch=branch, received_at=T0 + timedelta(seconds=i))
    later = T0 + timedelta(days=3)

    results = _race(2, lambda i: services.complaint_breach_scan(now=later, batch_size=7))

    assert sum(r["first_response"] for r in results) == 40
    assert sum(r["resolution"] for r in results) == 40
    assert ComplaintEvent.objects.filter(kind=ComplaintEventKind.FIRST_RESPONSE_BREACHED).count() == 40
    assert ComplaintEvent.objects.filter(kind=ComplaintEventKind.RESOLUTION_BREACHED).count() == 40
    assert Notification.objects.filter(kind__startswith="complaints.").count() == 80  # once per event
    assert services.complaint_breach_scan(now=later) == {"first_response": 0, "resolution": 0}
