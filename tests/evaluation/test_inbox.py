"""The inbox: core notifications (reports ready, other chapters) and complaint escalations together."""

import pytest
from django.urls import reverse

from accounts.models import Role
from complaints.services import complaint_escalate
from core import notifications
from core.models import Notification
from evaluation import services
from tests.accounts.factories import UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory
from tests.evaluation.factories import NOVEMBER, local

pytestmark = pytest.mark.django_db


def test_report_ready_reaches_the_branch_managers_once(branch):
    manager = UserFactory(roles=[Role.BRANCH_MANAGER], branch=branch, username="bm_inbox")
    CustomerFactory(branch=branch)
    report = services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch.pk)
    services.report_generate(report_id=report.pk)
    services.report_generate(report_id=report.pk)  # a redelivered task
    notes = Notification.objects.filter(recipient=manager, kind="evaluation.report_ready")
    assert notes.count() == 1
    assert "2026-11" in notifications.notification_text(notes.get())


def test_inbox_lists_both_kinds_and_counts_unread(client_as, branch):
    client = client_as("branch_manager")
    notifications.notification_send(recipient=client.user, kind="evaluation.report_ready",
                                    params={"period": "2026-11", "scope": "bank"}, url="/evaluation/reports/1/")
    desk = UserFactory(roles=[Role.COMPLAINT_DESK], branch=branch, username="desk_inbox")
    complaint = make_complaint(branch=branch, received_at=local(2026, 12, 1, 9))
    complaint_escalate(complaint=complaint, by=desk, note="", now=local(2026, 12, 1, 10))
    badge = client.get(reverse("evaluation:inbox-badge")).content.decode()
    assert ">2<" in badge
    page = client.get(reverse("evaluation:inbox")).content.decode()
    assert complaint.reference in page and "2026-11" in page
    client.post(reverse("evaluation:inbox"))
    assert ">1<" in client.get(reverse("evaluation:inbox-badge")).content.decode()  # the escalation stays


def test_inbox_needs_login(client):
    response = client.get(reverse("evaluation:inbox"))
    assert response.status_code == 302
