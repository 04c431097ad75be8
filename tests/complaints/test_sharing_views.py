"""Sharing a complaint on the pages: the share page per role, the colleague's read-only detail and queue, revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import RecordShare, Role
from complaints import services
from complaints.models import ComplaintUserObjectPermission
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint

QUEUE_URL = reverse("complaints:complaint-list")


def share_url(complaint) -> str:
    return reverse("complaints:complaint-share", args=[complaint.reference])


def detail_url(complaint) -> str:
    return reverse("complaints:complaint-detail", args=[complaint.reference])


@pytest.fixture
def complaint(branch):
    return make_complaint(branch=branch)


@pytest.fixture
def other_complaint(branch):
    return make_complaint(branch=branch)


@pytest.fixture
def desk(make_user):
    return make_user(Role.COMPLAINT_DESK, username="desk")


@pytest.fixture
def handler(db):
    """A head-office complaint handler: the desk role at another branch."""
    return UserFactory(username="ho_handler", branch=BranchFactory(code="HO001", name="Head Office"),
                       roles=[Role.COMPLAINT_DESK])


def share(complaint, colleague, by, **overrides):
    arguments = {"reason": "Head-office review", "ends_on": timezone.localdate() + timedelta(days=5)}
    arguments.update(overrides)
    return services.complaint_share(complaint=complaint, shared_with=colleague, by=by, **arguments)


@pytest.mark.parametrize(
    ("role", "status"),
    [("complaint_desk", 200), ("branch_manager", 200), ("admin", 200), ("auditor", 403), ("rm", 403)],
)
def test_share_page_role_matrix(client_as, complaint, role, status):
    client = client_as(role)
    response = client.get(share_url(complaint))
    assert response.status_code == status
    if status == 200:
        content = response.content.decode()
        assert complaint.reference in content
        assert 'name="shared_with"' in content and 'type="date"' in content


def test_another_branchs_desk_does_not_find_the_share_page(client, complaint, handler):
    client.force_login(handler)
    assert client.get(share_url(complaint)).status_code == 404


def test_sharing_on_the_page_creates_the_share(client, desk, complaint, handler):
    client.force_login(desk)
    response = client.post(share_url(complaint), {"shared_with": handler.pk, "reason": "Needs head office",
                                                  "ends_on": timezone.localdate().isoformat()})
    assert response.status_code == 302
    created = RecordShare.objects.get()
    assert created.record == complaint and created.shared_with == handler
    assert "Needs head office" in client.get(share_url(complaint)).content.decode()


def test_a_share_without_a_reason_is_refused(client, desk, complaint, handler):
    client.force_login(desk)
    response = client.post(share_url(complaint), {"shared_with": handler.pk, "reason": "",
                                                  "ends_on": timezone.localdate().isoformat()})
    assert response.status_code == 400
    assert not RecordShare.objects.exists()


def test_the_handler_reads_exactly_the_shared_complaint(client, desk, complaint, other_complaint, handler):
    share(complaint, handler, desk)
    client.force_login(handler)

    response = client.get(detail_url(complaint))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Shared with you, read only" in content
    assert reverse("complaints:complaint-transition", args=[complaint.reference]) not in content
    assert share_url(complaint) not in content
    assert client.get(detail_url(other_complaint)).status_code == 404

    queue = client.get(QUEUE_URL).content.decode()
    assert complaint.reference in queue
    assert other_complaint.reference not in queue

    # read only: acting on it answers "not found"
    response = client.post(reverse("complaints:complaint-transition", args=[complaint.reference]),
                           {"action": "acknowledge", "expected_version": complaint.version})
    assert response.status_code == 404
    status_before = complaint.status
    complaint.refresh_from_db()
    assert complaint.status == status_before and complaint.first_response_at is None


def test_the_desk_keeps_its_actions_and_the_share_button(client, desk, complaint, handler):
    share(complaint, handler, desk)
    client.force_login(desk)
    content = client.get(detail_url(complaint)).content.decode()
    assert "Shared with you, read only" not in content
    assert share_url(complaint) in content
    assert reverse("complaints:complaint-transition", args=[complaint.reference]) in content


def test_revoke_ends_the_handlers_access(client, desk, complaint, handler):
    created = share(complaint, handler, desk)
    client.force_login(desk)
    response = client.post(reverse("complaints:complaint-share-revoke", args=[complaint.reference, created.pk]))
    assert response.status_code == 302
    assert not ComplaintUserObjectPermission.objects.exists()
    client.force_login(handler)
    assert client.get(detail_url(complaint)).status_code == 404
    assert complaint.reference not in client.get(QUEUE_URL).content.decode()


def test_the_handler_cannot_revoke(client, desk, complaint, handler):
    created = share(complaint, handler, desk)
    client.force_login(handler)
    response = client.post(reverse("complaints:complaint-share-revoke", args=[complaint.reference, created.pk]))
    assert response.status_code == 404
    assert ComplaintUserObjectPermission.objects.filter(share=created).exists()


def test_an_expired_share_ends_access(client, desk, complaint, handler, time_machine):
    share(complaint, handler, desk, ends_on=timezone.localdate())
    time_machine.move_to(timezone.now() + timedelta(days=1), tick=False)
    client.force_login(handler)
    assert client.get(detail_url(complaint)).status_code == 404


def test_shared_with_me_lists_the_complaint(client, desk, complaint, handler):
    share(complaint, handler, desk)
    client.force_login(handler)
    content = client.get(reverse("accounts:shared-with-me")).content.decode()
    assert detail_url(complaint) in content
    assert "Head-office review" in content
