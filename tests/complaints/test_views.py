"""Complaint desk pages: the role matrix on every page, logging, transitions, the 360 panel, query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from complaints import services
from complaints.models import Complaint, ComplaintAttachment, ComplaintEvent, ComplaintStatus
from core.models import AuditEvent
from tests.accounts.factories import BranchFactory
from tests.complaints.factories import category, make_complaint
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def complaint(branch):
    return make_complaint(branch=branch)


def _pages(complaint):
    ref = complaint.reference
    return {
        "queue": ("get", reverse("complaints:complaint-list"), {}),
        "create": ("get", reverse("complaints:complaint-create"), {}),
        "detail": ("get", reverse("complaints:complaint-detail", args=[ref]), {}),
        "hotspots": ("get", reverse("complaints:complaint-hotspots"), {}),
        "transition": ("post", reverse("complaints:complaint-transition", args=[ref]),
                       {"action": "acknowledge", "expected_version": complaint.version}),
        "find": ("post", reverse("complaints:complaint-find-customer"), {"phone": "13912345678"}),
        "link": ("post", reverse("complaints:complaint-link-customer", args=[ref]), {"phone": "13912345678"}),
    }


EXPECTED = {
    #              rm   bm   desk auditor admin
    "queue":      (403, 200, 200, 200, 200),
    "create":     (403, 200, 200, 403, 200),
    "detail":     (403, 200, 200, 200, 200),
    "hotspots":   (403, 200, 403, 200, 200),
    "transition": (403, 302, 302, 403, 302),
    "find":       (403, 200, 200, 403, 200),
    "link":       (403, 200, 200, 403, 200),
}


@pytest.mark.parametrize("page", list(EXPECTED))
@pytest.mark.parametrize("role_index", range(len(ROLES)))
def test_role_matrix(client_as, complaint, page, role_index):
    role = ROLES[role_index]
    client = client_as(role)
    method, url, data = _pages(complaint)[page]
    response = getattr(client, method)(url, data)
    assert response.status_code == EXPECTED[page][role_index]
    complaint.refresh_from_db()
    if response.status_code == 403:
        assert complaint.status == ComplaintStatus.RECEIVED  # nothing changed


@pytest.mark.parametrize("page", list(EXPECTED))
def test_anonymous_is_sent_to_login(client, complaint, page):
    method, url, data = _pages(complaint)[page]
    response = getattr(client, method)(url, data)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_another_branchs_complaint_is_not_found(client_as, branch):
    foreign = make_complaint(branch=BranchFactory(code="B0999"))
    client = client_as("complaint_desk")
    assert client.get(reverse("complaints:complaint-detail", args=[foreign.reference])).status_code == 404
    response = client.post(reverse("complaints:complaint-transition", args=[foreign.reference]),
                           {"action": "acknowledge", "expected_version": 1})
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.status == ComplaintStatus.RECEIVED


def test_queue_lists_open_complaints_with_sla_badges(client_as, branch):
    overdue = make_complaint(branch=branch, received_at=timezone.now() - timedelta(hours=30))
    fresh = make_complaint(branch=branch)
    response = client_as("complaint_desk").get(reverse("complaints:complaint-list"))
    content = response.content.decode()
    assert overdue.reference in content and fresh.reference in content
    assert 'data-sla="overdue"' in content and 'data-sla="on_track"' in content


def test_queue_filters(client_as, branch, customer):
    card = make_complaint(branch=branch, category_code="B0302", severity="high")
    loan = make_complaint(branch=branch, category_code="B0201")
    client = client_as("complaint_desk")
    content = client.get(reverse("complaints:complaint-list"), {"category": category("B03").pk}).content.decode()
    assert card.reference in content and loan.reference not in content
    url = reverse("complaints:complaint-list")
    content = client.get(url, {"severity": "high", "order": "severity"}).content.decode()
    assert card.reference in content and loan.reference not in content
    content = client.get(reverse("complaints:complaint-list"), {"breached": "yes"}).content.decode()
    assert card.reference not in content


def test_desk_logs_a_complaint_for_a_customer(client_as, customer):
    client = client_as("complaint_desk")
    upload = SimpleUploadedFile("receipt.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32, content_type="image/png")
    response = client.post(reverse("complaints:complaint-create"), {
        "customer_id": customer.pk, "channel": "branch", "category": category().pk, "severity": "medium",
        "description": "信用卡年费未按承诺减免", "attachment": upload,
    })
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/complaints/{complaint.reference}/")
    assert complaint.customer == customer and complaint.created_by == client.user
    assert ComplaintAttachment.objects.get().original_name == "receipt.png"


def test_desk_logs_a_walk_in_and_links_the_customer_later(client_as, customer):
    client = client_as("complaint_desk")
    client.post(reverse("complaints:complaint-create"), {
        "contact_name": "王先生", "contact_phone": "13912345678", "channel": "branch",
        "category": category().pk, "severity": "low", "description": "排队时间过长",
    })
    complaint = Complaint.objects.get()
    assert complaint.customer is None and complaint.branch == client.user.branch
    response = client.post(reverse("complaints:complaint-link-customer", args=[complaint.reference]),
                           {"phone": "13912345678"})
    assert customer.name in response.content.decode()
    assert "13912345678" not in response.content.decode()
    assert AuditEvent.objects.filter(action="customers.identifier_search").exists()
    client.post(reverse("complaints:complaint-link-customer", args=[complaint.reference]),
                {"customer_id": customer.pk})
    complaint.refresh_from_db()
    assert complaint.customer == customer


def test_identifier_search_is_posted_and_never_echoed(client_as, customer):
    client = client_as("complaint_desk")
    response = client.post(reverse("complaints:complaint-find-customer"), {"id_number": customer.id_number})
    content = response.content.decode()
    assert customer.name in content and customer.id_number not in content


def test_invalid_transition_shows_a_message(client_as, complaint):
    client = client_as("complaint_desk")
    response = client.post(reverse("complaints:complaint-transition", args=[complaint.reference]),
                           {"action": "close", "expected_version": complaint.version}, follow=True)
    assert "cannot be moved" in response.content.decode()
    complaint.refresh_from_db()
    assert complaint.status == ComplaintStatus.RECEIVED


def test_stale_page_gets_a_conflict_message(client_as, complaint):
    client = client_as("complaint_desk")
    services.complaint_acknowledge(complaint=complaint, by=client.user)
    response = client.post(reverse("complaints:complaint-transition", args=[complaint.reference]),
                           {"action": "escalate", "expected_version": 1}, follow=True)
    assert "changed by someone else" in response.content.decode()
    assert ComplaintEvent.objects.filter(complaint=complaint).count() == 2


def test_detail_shows_timeline_and_allowed_actions(client_as, complaint):
    client = client_as("complaint_desk")
    client.post(reverse("complaints:complaint-transition", args=[complaint.reference]),
                {"action": "acknowledge", "expected_version": 1, "note": "已致电客户"})
    content = client.get(reverse("complaints:complaint-detail", args=[complaint.reference])).content.decode()
    assert "已致电客户" in content and 'data-kind="acknowledged"' in content
    assert 'value="resolve"' in content and 'value="acknowledge"' not in content


def test_auditor_sees_no_action_buttons(client_as, complaint):
    response = client_as("auditor").get(reverse("complaints:complaint-detail", args=[complaint.reference]))
    content = response.content.decode()
    assert response.status_code == 200
    assert complaint.reference in content and 'data-kind="created"' in content  # the timeline is there
    assert 'name="action"' not in content


def test_hotspots_show_counts_trend_and_rates(client_as, branch, customer):
    now = timezone.now()
    make_complaint(branch=branch, received_at=now - timedelta(days=1))
    make_complaint(branch=branch, received_at=now - timedelta(days=2), category_code="B0201")
    make_complaint(branch=branch, received_at=now - timedelta(days=40))
    response = client_as("branch_manager").get(reverse("complaints:complaint-hotspots"), {"dimension": "branch"})
    report = response.context["report"]
    assert report["total"] == 2 and report["previous_total"] == 1
    assert report["rows"][0].per_thousand_customers == 2000.0  # 2 complaints, 1 active customer
    assert 'id="hotspot-chart"' in response.content.decode()


def test_customer_360_shows_the_complaints_panel(client_as, customer):
    complaint = make_complaint(customer=customer)
    content = client_as("complaint_desk").get(reverse("customers:customer-detail", args=[customer.pk]))
    assert complaint.reference in content.content.decode()


def test_customer_360_has_no_panel_for_an_rm(client_as, customer):
    make_complaint(customer=customer)
    client = client_as("rm")
    customer.relationship_manager = client.user
    customer.save()
    content = client.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert "complaints-panel-heading" not in content


def test_queue_query_count_is_constant(client_as, make_user, branch):
    client = client_as("admin")
    for _ in range(3):
        make_complaint(customer=CustomerFactory(branch=branch))
    client.get(reverse("complaints:complaint-list"))
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse("complaints:complaint-list")).status_code == 200
    for _ in range(20):
        make_complaint(customer=CustomerFactory(branch=BranchFactory()))
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("complaints:complaint-list"))
    assert len(many) == len(few)
    assert len(few) <= 12


def test_branch_manager_sees_escalations_waiting(client_as, complaint, user_for_role):
    client = client_as("branch_manager")
    services.complaint_escalate(complaint=complaint, by=user_for_role("complaint_desk"))
    content = client.get(reverse("complaints:complaint-list")).content.decode()
    assert "1 escalation is waiting for you." in content
    client.get(reverse("complaints:complaint-detail", args=[complaint.reference]))
    assert "waiting for you" not in client.get(reverse("complaints:complaint-list")).content.decode()


# --- Review fixes: out-of-range dates, survey pending, customer filter, SLA policy admin ----------------


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("field", ["received_from", "received_to"])
def test_queue_with_an_out_of_range_date_shows_a_form_error(client_as, complaint, field, day):
    response = client_as("complaint_desk").get(reverse("complaints:complaint-list"), {field: day, "status": ""})
    assert response.status_code == 200
    assert "Enter a date between 2000-01-01 and 2100-12-31." in response.content.decode()
    assert complaint.reference in response.content.decode()  # the bad filter is dropped, not the page


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "9999-12-31"), ("9999-12-31", ""), ("", "0001-01-01")])
def test_hotspots_with_an_out_of_range_date_shows_a_form_error(client_as, start, end):
    response = client_as("branch_manager").get(reverse("complaints:complaint-hotspots"), {"start": start, "end": end})
    assert response.status_code == 200
    assert "Enter a date between 2000-01-01 and 2100-12-31." in response.content.decode()


def test_period_helpers_clamp_instead_of_overflowing(user_for_role):
    from datetime import date

    from complaints import selectors

    user = user_for_role("admin")
    filters = selectors.QueueFilters(status="", received_from=date.min, received_to=date.max)
    assert list(selectors.complaint_queue_visible_to(user=user, filters=filters)) == []
    report = selectors.complaint_hotspots(user=user, dimension="category", start=date.min, end=date.max)
    assert report["total"] == 0


def test_queue_filter_survey_pending_lists_resolved_walk_ins(client_as, branch, customer, user_for_role):
    desk = user_for_role("complaint_desk", username="desk2")
    walk_in = services.complaint_acknowledge(complaint=make_complaint(branch=branch), by=desk)
    services.complaint_resolve(complaint=walk_in, by=desk, resolution="ok", root_cause="C01")
    identified = services.complaint_acknowledge(complaint=make_complaint(customer=customer), by=desk)
    services.complaint_resolve(complaint=identified, by=desk, resolution="ok", root_cause="C01")
    still_open = make_complaint(branch=branch)
    content = client_as("complaint_desk").get(reverse("complaints:complaint-list"),
                                              {"status": "survey_pending"}).content.decode()
    assert walk_in.reference in content
    assert identified.reference not in content and still_open.reference not in content


def test_queue_filters_by_customer_within_the_viewers_scope(client_as, branch, customer):
    mine = [make_complaint(customer=customer) for _ in range(12)]
    other = make_complaint(branch=branch)
    foreign_customer = CustomerFactory(branch=BranchFactory(code="B0998"))
    foreign = make_complaint(customer=foreign_customer)
    client = client_as("complaint_desk")
    content = client.get(reverse("complaints:complaint-list"), {"customer": customer.pk, "status": ""}).content.decode()
    assert all(c.reference in content for c in mine) and other.reference not in content
    content = client.get(reverse("complaints:complaint-list"),
                         {"customer": foreign_customer.pk, "status": ""}).content.decode()
    assert foreign.reference not in content and other.reference not in content
    assert "No complaints match these filters." in content


def test_customer_360_panel_links_to_all_the_customers_complaints(client_as, customer):
    make_complaint(customer=customer)
    content = client_as("complaint_desk").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    link = f'{reverse("complaints:complaint-list")}?customer={customer.pk}&amp;status='
    assert "See all complaints" in content and link in content


def _policy_form(effective_from):
    local = timezone.localtime(effective_from)
    return {"effective_from_0": local.strftime("%Y-%m-%d"), "effective_from_1": local.strftime("%H:%M:%S"),
            "first_response_minutes": 600, "resolution_minutes": 1440, "warning_pct": 75, "critical_pct": 90,
            "reopen_window_days": 30, "rules-TOTAL_FORMS": 0, "rules-INITIAL_FORMS": 0}


def test_admin_refuses_an_sla_version_effective_in_the_past(client_as):
    from complaints.models import SlaPolicy

    client = client_as("admin", is_staff=True, is_superuser=True)
    response = client.post("/admin/complaints/slapolicy/add/", _policy_form(timezone.now() - timedelta(hours=1)))
    assert response.status_code == 200
    assert "cannot take effect in the past" in response.content.decode()
    assert SlaPolicy.objects.count() == 1
    assert not AuditEvent.objects.filter(action=services.AUDIT_SLA_POLICY_CREATE).exists()


def test_admin_adds_an_sla_version_through_the_service(client_as):
    from complaints.models import SlaPolicy

    client = client_as("admin", is_staff=True, is_superuser=True)
    data = _policy_form(timezone.now() + timedelta(days=1)) | {
        "rules-TOTAL_FORMS": 1, "rules-0-category": category("B03").pk, "rules-0-severity": "",
        "rules-0-first_response_minutes": 120, "rules-0-resolution_minutes": 720}
    response = client.post("/admin/complaints/slapolicy/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = SlaPolicy.objects.get(version=2)
    assert policy.created_by == client.user and policy.rules.get().resolution_minutes == 720
    assert AuditEvent.objects.get(action=services.AUDIT_SLA_POLICY_CREATE).actor_id == client.user.pk


def test_hotspots_in_chinese_label_the_count_and_change_and_fill_the_period(client_as, branch, customer):
    # given two complaints this period and one in the previous one (+100 %)
    now = timezone.now()
    make_complaint(branch=branch, received_at=now - timedelta(days=1))
    make_complaint(branch=branch, received_at=now - timedelta(days=2))
    make_complaint(branch=branch, received_at=now - timedelta(days=40))
    client = client_as("branch_manager")
    client.cookies.load({"django_language": "zh-hans"})

    # when the manager opens the page without choosing a period
    content = client.get(reverse("complaints:complaint-hotspots")).content.decode()

    # then the tile counts complaints (not the menu name), the column is the change, the sign shows,
    assert "投诉数量" in content and ">变化<" in content
    assert "+100 %" in content
    # and the date fields show the period applied, as ISO dates the browser's date input accepts
    today = timezone.localdate()
    assert f'value="{today.isoformat()}"' in content
    assert f'value="{(today - timedelta(days=29)).isoformat()}"' in content


def test_timeline_and_logged_by_show_staff_names_not_usernames(client_as, customer):
    # given a complaint logged by a desk clerk with a name, and a breach written by the system
    client = client_as("complaint_desk", first_name="静", last_name="陈")
    complaint = make_complaint(customer=customer, by=client.user)
    ComplaintEvent.objects.create(complaint=complaint, kind="first_response_breached", occurred_at=timezone.now(),
                                  actor_label="system")
    client.cookies.load({"django_language": "zh-hans"})

    content = client.get(reverse("complaints:complaint-detail", args=[complaint.reference])).content.decode()

    assert "陈静" in content and "系统" in content and "自动" in content
    assert "complaint_desk_user" not in content and "· system" not in content
