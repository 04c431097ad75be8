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


def test_guessing_the_phone_is_throttled_per_reference(client, public_complaint):
    for last4 in ("0001", "0002", "0003", "0004", "0005"):
        assert _lookup(client, public_complaint.reference, last4).status_code == 200
    response = _lookup(client, public_complaint.reference, "5678")  # even the right one now
    assert response.status_code == 429
    assert public_complaint.reference not in response.content.decode().replace('value="', "")


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
