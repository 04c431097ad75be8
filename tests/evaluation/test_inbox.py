"""The inbox: one list of every chapter's messages (reports ready, complaint escalations, ...)."""

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


def test_inbox_lists_every_chapters_messages_and_counts_unread(client_as, branch):
    client = client_as("branch_manager")
    notifications.notification_send(recipient=client.user, kind="evaluation.report_ready",
                                    params={"period": "2026-11", "scope": "bank"}, url="/evaluation/reports/1/")
    desk = UserFactory(roles=[Role.COMPLAINT_DESK], branch=branch, username="desk_inbox")
    complaint = make_complaint(branch=branch, received_at=local(2026, 12, 1, 9))
    complaint_escalate(complaint=complaint, by=desk, note="", now=local(2026, 12, 1, 10))
    badge = client.get(reverse("evaluation:inbox-badge")).content.decode()
    assert ">2<" in badge
    page = client.get(reverse("evaluation:inbox")).content.decode()
    assert f"Complaint {complaint.reference} was escalated to you." in page and "2026-11" in page
    assert f'href="/complaints/{complaint.reference}/"' in page
    client.post(reverse("evaluation:inbox"))  # mark all as read
    assert ">1<" not in client.get(reverse("evaluation:inbox-badge")).content.decode()
    assert not Notification.objects.filter(recipient=client.user, read_at__isnull=True).exists()


def test_the_inbox_pages_through_many_messages(client_as):
    client = client_as("branch_manager")
    for number in range(55):
        notifications.notification_send(recipient=client.user, kind="evaluation.report_ready",
                                        params={"period": f"2026-{number:02d}", "scope": "bank"})
    first = client.get(reverse("evaluation:inbox")).content.decode()
    second = client.get(reverse("evaluation:inbox"), {"page": 2}).content.decode()
    assert "2026-54" in first and "2026-04" not in first  # newest first, 50 a page
    assert "2026-04" in second and "2026-00" in second and "2026-54" not in second
    assert "1 / 2" in first


def test_inbox_needs_login(client):
    response = client.get(reverse("evaluation:inbox"))
    assert response.status_code == 302
