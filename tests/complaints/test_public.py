"""Public complaint pages (no login): online form with honeypot and rate limit, progress, reopen."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from complaints import services
from complaints.models import Complaint, ComplaintEvent, ComplaintStatus
from tests.complaints.factories import category, make_complaint

pytestmark = pytest.mark.django_db
_CSRF = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def _page(response, typed_reference: str) -> str:
    """The page minus what differs per response anyway (the masked CSRF token) and the typed reference."""
    return _CSRF.sub(r"\1-", response.content.decode()).replace(typed_reference, "REF")


def _form(branch, **overrides):
    data = {"contact_name": "陈女士", "contact_phone": "13700005678", "branch": branch.pk,
            "category": category().pk, "description": "手机银行转账失败但已扣款", "website": ""}
    return data | overrides


def test_online_form_returns_a_reference(client, branch):
    response = client.post(reverse("complaints-public:create"), _form(branch), follow=True)
    complaint = Complaint.objects.get()
    assert complaint.channel == "online" and complaint.customer is None
    assert complaint.reference in response.content.decode()
    event = ComplaintEvent.objects.get(complaint=complaint)
    assert event.actor_label == "customer" and event.customer_visible


def test_honeypot_stores_nothing_but_looks_accepted(client, branch):
    response = client.post(reverse("complaints-public:create"), _form(branch, website="http://spam.example"),
                           follow=True)
    assert response.status_code == 200
    assert not Complaint.objects.exists()


def test_online_form_is_rate_limited_per_address(client, branch):
    for _ in range(5):
        client.post(reverse("complaints-public:create"), _form(branch))
    response = client.post(reverse("complaints-public:create"), _form(branch))
    assert response.status_code == 429
    assert Complaint.objects.count() == 5


@pytest.fixture
def public_complaint(branch, user_for_role):
    complaint = make_complaint(branch=branch, contact_name="陈女士", contact_phone="13700005678")
    desk = user_for_role("complaint_desk")
    complaint = services.complaint_acknowledge(complaint=complaint, by=desk, note="内部备注 核查流水")
    return complaint


def _lookup(client, reference, last4):
    return client.post(reverse("complaints-public:progress"), {"reference": reference, "phone_last4": last4})


def test_progress_shows_only_customer_visible_events(client, public_complaint):
    response = _lookup(client, public_complaint.reference, "5678")
    content = response.content.decode()
    assert response.status_code == 200
    assert public_complaint.reference in content and 'id="public-timeline"' in content
    assert "内部备注" not in content  # notes of internal steps never reach the customer


def test_wrong_reference_and_wrong_phone_get_the_identical_answer(client, public_complaint):
    wrong_phone = _lookup(client, public_complaint.reference, "0000")
    wrong_reference = _lookup(client, "TS20000101-999999", "5678")
    assert wrong_phone.status_code == wrong_reference.status_code == 200
    assert _page(wrong_phone, public_complaint.reference) == _page(wrong_reference, "TS20000101-999999")


def _lookup_from(client, address, reference, last4):
    return client.post(reverse("complaints-public:progress"), {"reference": reference, "phone_last4": last4},
                       REMOTE_ADDR=address)


def test_guessing_the_phone_is_throttled_per_reference_and_address(client, public_complaint):
    for last4 in ("0001", "0002", "0003", "0004", "0005"):
        assert _lookup_from(client, "203.0.113.9", public_complaint.reference, last4).status_code == 200
    response = _lookup_from(client, "203.0.113.9", public_complaint.reference, "5678")  # even the right one now
    assert response.status_code == 429
    assert public_complaint.reference not in response.content.decode().replace('value="', "")


def test_a_stranger_guessing_digits_does_not_lock_out_the_complainant(client, public_complaint):
    """Given five wrong guesses for a (sequential) reference from one address, the complainant still gets in."""
    for last4 in ("0001", "0002", "0003", "0004", "0005"):
        _lookup_from(client, "203.0.113.9", public_complaint.reference, last4)
    response = _lookup_from(client, "198.51.100.7", public_complaint.reference, "5678")
    assert response.status_code == 200 and 'id="public-timeline"' in response.content.decode()
    services.complaint_resolve(complaint=public_complaint, by=None, resolution="已退款", root_cause="C02")
    url = reverse("complaints-public:reopen", args=[public_complaint.reference])
    for last4 in ("0001", "0002", "0003", "0004", "0005"):
        client.post(url, {"phone_last4": last4, "reason": "x"}, REMOTE_ADDR="203.0.113.10")
    response = client.post(url, {"phone_last4": "5678", "reason": "未收到退款"}, REMOTE_ADDR="198.51.100.7")
    assert response.status_code == 200
    public_complaint.refresh_from_db()
    assert public_complaint.status == ComplaintStatus.INVESTIGATING


def test_lookups_are_throttled_per_address(client, public_complaint):
    for i in range(20):
        _lookup(client, f"TS20000101-{i:06d}", "1234")
    assert _lookup(client, public_complaint.reference, "5678").status_code == 429


def test_customer_reopens_a_resolved_complaint(client, public_complaint, user_for_role):
    services.complaint_resolve(complaint=public_complaint, by=None, resolution="已退款", root_cause="C02")
    url = reverse("complaints-public:reopen", kwargs={"reference": public_complaint.reference})
    assert client.get(url).status_code == 200
    response = client.post(url, {"phone_last4": "0000", "reason": "未收到退款"})
    public_complaint.refresh_from_db()
    assert public_complaint.status == ComplaintStatus.RESOLVED
    response = client.post(url, {"phone_last4": "5678", "reason": "未收到退款"})
    assert response.status_code == 200
    public_complaint.refresh_from_db()
    assert public_complaint.status == ComplaintStatus.INVESTIGATING


def test_reopen_of_an_unknown_reference_looks_like_a_wrong_phone(client, public_complaint):
    services.complaint_resolve(complaint=public_complaint, by=None, resolution="已退款", root_cause="C02")
    real = client.post(reverse("complaints-public:reopen", args=[public_complaint.reference]),
                       {"phone_last4": "0000", "reason": "x"})
    fake = client.post(reverse("complaints-public:reopen", args=["TS20000101-000001"]),
                       {"phone_last4": "0000", "reason": "x"})
    assert _page(real, public_complaint.reference) == _page(fake, "TS20000101-000001")


def test_progress_shows_the_resolution_never_a_staff_note(client, public_complaint, user_for_role):
    """Given a resolve with a staff note (as the API allows), the customer reads the resolution only."""
    desk = user_for_role("complaint_desk", username="desk2")
    services.complaint_resolve(complaint=public_complaint, by=desk, resolution="已退还年费",
                               root_cause="C02", note="内部 客户情绪激动")
    content = _lookup(client, public_complaint.reference, "5678").content.decode()
    assert "已退还年费" in content and "客户情绪激动" not in content


def test_a_staff_reopen_note_stays_internal_the_customers_reason_is_shown(client, public_complaint, user_for_role):
    desk = user_for_role("complaint_desk", username="desk2")
    resolved = services.complaint_resolve(complaint=public_complaint, by=desk, resolution="已退款", root_cause="C02")
    reopened = services.complaint_reopen(complaint=resolved, by=desk, note="内部 主管要求复查")
    resolved = services.complaint_resolve(complaint=reopened, by=desk, resolution="已补退差额", root_cause="C02")
    services.complaint_public_reopen(complaint=resolved, phone_last4="5678", reason="差额仍未到账")
    content = _lookup(client, public_complaint.reference, "5678").content.decode()
    assert "主管要求复查" not in content
    assert "差额仍未到账" in content
    assert "已退款" in content and "已补退差额" in content  # each resolution shown at its own step
