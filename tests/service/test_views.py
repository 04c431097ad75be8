"""Staff pages of the service chapter: who may open each, scope (a foreign customer is a 404), and the writes."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from service.models import FeedbackTopic, FollowUpTask, ServiceRecord, SurveyInvitation
from service.services import survey_response_submit
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.service.factories import ServiceRecordFactory, invitation_with_token, touchpoint

REPORT_URL = reverse("service:service-report")
FOLLOW_UPS_URL = reverse("service:follow-up-list")
ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def own_customer(branch):
    """A customer of the client's branch, whose RM the rm fixture user will be (set per test)."""
    return CustomerFactory(branch=branch, phone="13900001111")


def login(client_as, role, customer):
    client = client_as(role)
    if role == "rm":
        customer.relationship_manager = client.user
        customer.save(update_fields=["relationship_manager"])
    return client


def dissatisfied_answer(customer):
    invitation, _token = invitation_with_token(customer=customer)
    return survey_response_submit(invitation=invitation, csat=1, nps=2, comment="排队太慢")


@pytest.fixture
def foreign_customer(db):
    other_branch = BranchFactory(code="B0909", name="Far Branch")
    other_rm = UserFactory(username="far_rm", branch=other_branch, roles=[Role.RELATIONSHIP_MANAGER])
    return CustomerFactory(branch=other_branch, relationship_manager=other_rm)


# --- Report ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
def test_report_page_roles(client_as, role, status):
    assert client_as(role).get(REPORT_URL).status_code == status


def test_report_page_needs_login(client):
    response = client.get(REPORT_URL)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_report_page_shows_the_branch_numbers(client_as, own_customer):
    ServiceRecordFactory(customer=own_customer, minutes=20)
    response = client_as("branch_manager").get(REPORT_URL)
    assert response.status_code == 200
    assert response.context["report"].total_records == 1 and response.context["report"].total_overruns == 1
    assert b'data-touchpoint="consultation"' in response.content


def test_head_office_filters_by_branch_and_a_bad_branch_is_ignored(client_as, own_customer, foreign_customer):
    ServiceRecordFactory(customer=own_customer)
    ServiceRecordFactory(customer=foreign_customer)
    client = client_as("admin")
    one = client.get(REPORT_URL, {"branch": foreign_customer.branch_id})
    assert one.context["report"].total_records == 1 and one.context["report"].branch == foreign_customer.branch
    assert client.get(REPORT_URL).context["report"].total_records == 2
    assert client.get(REPORT_URL, {"branch": 999999}).status_code == 200


# --- Recording a service --------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200),
                                              ("auditor", 403), ("admin", 200)])
def test_record_form_roles(client_as, own_customer, role, status):
    client = login(client_as, role, own_customer)
    url = reverse("service:service-record-create", args=[own_customer.pk])
    assert client.get(url).status_code == status


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk"])
def test_foreign_customer_is_a_404(client_as, foreign_customer, role):
    client = client_as(role)
    url = reverse("service:service-record-create", args=[foreign_customer.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {}).status_code == 404
    assert not ServiceRecord.objects.exists()


def test_record_form_posts_a_service_and_sends_a_survey(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    url = reverse("service:service-record-create", args=[own_customer.pk])
    ended = timezone.localtime() - timedelta(minutes=2)
    consultation = touchpoint("consultation")

    response = client.post(url, {
        "touchpoint": consultation.pk,
        "started_at": (ended - timedelta(minutes=25)).strftime("%Y-%m-%dT%H:%M"),
        "ended_at": ended.strftime("%Y-%m-%dT%H:%M"),
        "steps_completed": consultation.sop_steps[:3],
        "outcome": "completed",
        "send_survey": "on",
    })

    assert response.status_code == 302
    record = ServiceRecord.objects.get()
    assert record.staff == client.user and record.is_overrun and len(record.steps_completed) == 3
    assert SurveyInvitation.objects.filter(service_record=record).exists()


def test_record_form_shows_service_errors_on_the_field(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    url = reverse("service:service-record-create", args=[own_customer.pk])
    now = timezone.localtime()
    response = client.post(url, {
        "touchpoint": touchpoint().pk, "outcome": "completed",
        "started_at": now.strftime("%Y-%m-%dT%H:%M"),
        "ended_at": (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
    })
    assert response.status_code == 200 and response.context["form"].errors["ended_at"]
    assert not ServiceRecord.objects.exists()


# --- Follow-ups -----------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
def test_follow_up_list_roles(client_as, role, status):
    assert client_as(role).get(FOLLOW_UPS_URL).status_code == status


def test_follow_up_list_needs_login(client):
    assert client.get(FOLLOW_UPS_URL).status_code == 302


def test_rm_sees_their_own_follow_ups_only(client_as, own_customer, foreign_customer):
    client = login(client_as, "rm", own_customer)
    mine = dissatisfied_answer(own_customer).follow_up
    dissatisfied_answer(foreign_customer)

    response = client.get(FOLLOW_UPS_URL)

    assert [task.pk for task in response.context["page"].object_list] == [mine.pk]
    assert response.context["heading"] == "My follow-ups"


def test_rm_marks_a_follow_up_done(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    task = dissatisfied_answer(own_customer).follow_up

    response = client.post(reverse("service:follow-up-finish", args=[task.pk]), {"status": "done", "note": "ok"})

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.DONE and task.finished_by == client.user


@pytest.mark.parametrize(("role", "status"), [("auditor", 403), ("complaint_desk", 403)])
def test_readers_cannot_finish_a_follow_up(client_as, own_customer, role, status):
    client = login(client_as, role, own_customer)
    task = dissatisfied_answer(own_customer).follow_up
    assert client.post(reverse("service:follow-up-finish", args=[task.pk]), {"status": "done"}).status_code == status
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.OPEN


def test_foreign_follow_up_is_a_404(client_as, foreign_customer):
    client = client_as("rm")
    task = dissatisfied_answer(foreign_customer).follow_up
    assert client.post(reverse("service:follow-up-finish", args=[task.pk]), {"status": "done"}).status_code == 404
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.OPEN


def test_anonymous_cannot_finish_a_follow_up(client, own_customer):
    task = dissatisfied_answer(own_customer).follow_up
    assert client.post(reverse("service:follow-up-finish", args=[task.pk]), {"status": "done"}).status_code == 302
    task.refresh_from_db()
    assert task.status == FollowUpTask.Status.OPEN


# --- One answer, re-tagging -----------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_answer_page_for_every_staff_role(client_as, own_customer, role):
    client = login(client_as, role, own_customer)
    response = dissatisfied_answer(own_customer)
    assert client.get(reverse("service:response-detail", args=[response.pk])).status_code == 200


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk"])
def test_foreign_answer_is_a_404(client_as, foreign_customer, role):
    response = dissatisfied_answer(foreign_customer)
    assert client_as(role).get(reverse("service:response-detail", args=[response.pk])).status_code == 404


def test_anonymous_cannot_open_an_answer(client, own_customer):
    response = dissatisfied_answer(own_customer)
    assert client.get(reverse("service:response-detail", args=[response.pk])).status_code == 302


def test_staff_re_tag_and_auditor_cannot(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    response = dissatisfied_answer(own_customer)
    fees = FeedbackTopic.objects.get(code="fees")
    url = reverse("service:response-detail", args=[response.pk])

    assert client.post(url, {"topics": [fees.pk]}).status_code == 302
    assert [topic.code for topic in response.topics.all()] == ["fees"]

    auditor_client = client_as("auditor", username="aud2")
    assert auditor_client.post(url, {"topics": []}).status_code == 403
    assert response.topics.count() == 1


# --- The 360 panel --------------------------------------------------------------------------


def test_customer_360_shows_services_answers_and_open_follow_ups(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    ServiceRecordFactory(customer=own_customer, minutes=30, staff=client.user)
    answer = dissatisfied_answer(own_customer)

    response = client.get(reverse("customers:customer-detail", args=[own_customer.pk]))

    content = response.content.decode()
    assert response.status_code == 200
    assert "Service records" in content and "overrun" in content
    assert reverse("service:response-detail", args=[answer.pk]) in content
    assert reverse("service:follow-up-finish", args=[answer.follow_up.pk]) in content
    assert reverse("service:service-record-create", args=[own_customer.pk]) in content


def test_auditor_360_panel_has_no_write_buttons(client_as, own_customer):
    client = client_as("auditor")
    answer = dissatisfied_answer(own_customer)
    content = client.get(reverse("customers:customer-detail", args=[own_customer.pk])).content.decode()
    assert reverse("service:follow-up-finish", args=[answer.follow_up.pk]) not in content
    assert reverse("service:service-record-create", args=[own_customer.pk]) not in content


def test_answer_page_of_a_satisfied_answer_has_no_follow_up(client_as, own_customer):
    client = login(client_as, "rm", own_customer)
    invitation, _token = invitation_with_token(customer=own_customer)
    answer = survey_response_submit(invitation=invitation, csat=5, nps=10)
    response = client.get(reverse("service:response-detail", args=[answer.pk]))
    assert response.status_code == 200 and b"Follow-up" not in response.content


# --- Far-off dates in the record form (review finding 5) ------------------------------------


@pytest.mark.parametrize("moment", ["9999-12-31T23:59", "0001-01-01T00:00"])
def test_record_form_refuses_far_off_dates(client_as, own_customer, moment):
    client = login(client_as, "rm", own_customer)
    url = reverse("service:service-record-create", args=[own_customer.pk])

    response = client.post(url, {"touchpoint": touchpoint().pk, "outcome": "completed",
                                 "started_at": moment, "ended_at": moment})

    assert response.status_code == 200 and response.context["form"].errors["started_at"]
    assert not ServiceRecord.objects.exists()


# --- A branch manager without a branch (review finding 8) -----------------------------------


def test_branch_manager_without_a_branch_sees_no_follow_ups_or_answers(client_as, own_customer, foreign_customer):
    own_answer, foreign_answer = dissatisfied_answer(own_customer), dissatisfied_answer(foreign_customer)
    client = client_as("branch_manager", branch=None)

    assert list(client.get(FOLLOW_UPS_URL, {"show": "all"}).context["page"].object_list) == []
    for answer in (own_answer, foreign_answer):
        assert client.get(reverse("service:response-detail", args=[answer.pk])).status_code == 404
        assert client.post(reverse("service:follow-up-finish", args=[answer.follow_up.pk]),
                           {"status": "done"}).status_code == 404
    assert FollowUpTask.objects.filter(status=FollowUpTask.Status.OPEN).count() == 2


# --- A customer's full service history (review finding 14) ----------------------------------


def history_url(customer) -> str:
    return reverse("service:customer-service-history", args=[customer.pk])


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200),
                                              ("auditor", 200), ("admin", 200)])
def test_history_page_roles(client_as, own_customer, role, status):
    ServiceRecordFactory(customer=own_customer)
    client = login(client_as, role, own_customer)

    response = client.get(history_url(own_customer))

    assert response.status_code == status
    assert response.context["records_page"].paginator.count == 1


@pytest.mark.parametrize(("role", "status"), [("rm", 404), ("branch_manager", 404), ("complaint_desk", 404),
                                              ("auditor", 200), ("admin", 200)])
def test_history_of_a_foreign_customer_is_a_404_for_branch_roles(client_as, foreign_customer, role, status):
    ServiceRecordFactory(customer=foreign_customer)
    assert client_as(role).get(history_url(foreign_customer)).status_code == status


def test_history_needs_a_customer_role_and_a_login(client, make_user, own_customer):
    assert client.get(history_url(own_customer)).status_code == 302
    client.force_login(make_user(None, username="no_role"))
    assert client.get(history_url(own_customer)).status_code == 403


def test_history_pages_records_and_answers_separately(client_as, own_customer):
    """30 services and 27 answers: page 2 of each holds the rest, and paging one keeps the other's page."""
    for hours in range(30):
        ServiceRecordFactory(customer=own_customer, started_at=timezone.now() - timedelta(hours=hours + 1))
    for _ in range(27):
        dissatisfied_answer(own_customer)
    client = login(client_as, "rm", own_customer)

    first = client.get(history_url(own_customer))
    second = client.get(history_url(own_customer), {"records_page": 2, "answers_page": 2})

    assert len(first.context["records_page"].object_list) == 25
    assert len(first.context["answers_page"].object_list) == 25
    assert len(second.context["records_page"].object_list) == 5
    assert len(second.context["answers_page"].object_list) == 2
    assert "records_page=2" in first.content.decode() and "answers_page=2" in first.content.decode()


def test_360_panel_links_to_the_history(client_as, own_customer):
    for hours in range(6):
        ServiceRecordFactory(customer=own_customer, started_at=timezone.now() - timedelta(hours=hours + 1))
    client = login(client_as, "rm", own_customer)

    page = client.get(reverse("customers:customer-detail", args=[own_customer.pk])).content.decode()

    assert history_url(own_customer) in page
