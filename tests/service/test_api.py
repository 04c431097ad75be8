"""The service API: survey responses (read, surveys:read) and service records (create idempotently, list)."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Role
from service.models import ServiceRecord, SurveyInvitation
from service.services import survey_response_submit
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.service.factories import ServiceRecordFactory, invitation_with_token

RESPONSES_URL = "/api/v1/survey-responses/"
RECORDS_URL = "/api/v1/service-records/"
ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def make_key(db):
    def make(name="qms", scopes=("surveys:read",), **kwargs):
        _key, raw = account_services.api_key_create(name=name, scopes=list(scopes), by=None, **kwargs)
        return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}

    return make


@pytest.fixture
def customers(branch):
    other_branch = BranchFactory(code="B0707", name="Other Branch")
    other_rm = UserFactory(username="other_rm", branch=other_branch, roles=[Role.RELATIONSHIP_MANAGER])
    return {
        "own": CustomerFactory(branch=branch, external_id="C900000001"),
        "foreign": CustomerFactory(branch=other_branch, relationship_manager=other_rm, external_id="C900000002"),
    }


def answered(customer, *, csat=4, nps=9, trigger="service"):
    invitation, _token = invitation_with_token(customer=customer, trigger=trigger)
    return survey_response_submit(invitation=invitation, csat=csat, nps=nps, comment="slow queue")


def record_payload(**overrides):
    ended = timezone.now() - timedelta(minutes=5)
    payload = {
        "customer_number": "C900000001",
        "touchpoint": "transfer",
        "started_at": (ended - timedelta(minutes=12)).isoformat(),
        "ended_at": ended.isoformat(),
        "outcome": "completed",
        "steps_completed": ["Verify identity"],
    }
    return {**payload, **overrides}


# --- Survey responses -----------------------------------------------------------------------


@pytest.mark.parametrize(("role", "visible"), [("rm", set()), ("branch_manager", {"own"}),
                                               ("complaint_desk", {"own"}), ("auditor", {"own", "foreign"}),
                                               ("admin", {"own", "foreign"})])
def test_staff_read_answers_of_the_customers_they_see(client_as, customers, role, visible):
    answers = {name: answered(customer) for name, customer in customers.items()}
    response = client_as(role).get(RESPONSES_URL)
    assert response.status_code == 200
    ids = {row["id"] for row in response.json()["results"]}
    assert ids == {answers[name].pk for name in visible}


def test_rm_reads_their_own_customers_answers(client_as, customers):
    client = client_as("rm")
    customers["own"].relationship_manager = client.user
    customers["own"].save()
    mine = answered(customers["own"])
    answered(customers["foreign"])

    rows = client.get(RESPONSES_URL).json()["results"]

    assert [row["id"] for row in rows] == [mine.pk]
    assert rows[0]["customer_number"] == "C900000001" and rows[0]["topics"] == ["slow_response"]


def test_anonymous_gets_401_or_403(client, customers):
    assert client.get(RESPONSES_URL).status_code in (401, 403)
    assert client.get(RECORDS_URL).status_code in (401, 403)
    assert client.post(RECORDS_URL, record_payload(), content_type="application/json").status_code in (401, 403)
    assert not ServiceRecord.objects.exists()


def test_key_with_surveys_read_reads_all_and_a_branch_key_its_branch(client, make_key, customers, branch):
    own, foreign = answered(customers["own"]), answered(customers["foreign"])

    everything = client.get(RESPONSES_URL, **make_key()).json()["results"]
    branch_only = client.get(RESPONSES_URL, **make_key(name="branch-kiosk", branch=branch)).json()["results"]

    assert {row["id"] for row in everything} == {own.pk, foreign.pk}
    assert [row["id"] for row in branch_only] == [own.pk]


def test_key_without_the_scope_is_refused(client, make_key, customers):
    assert client.get(RESPONSES_URL, **make_key(scopes=["customers:read"])).status_code == 403


def test_filters(client, make_key, customers):
    happy = answered(customers["own"], csat=5, nps=10)
    unhappy = answered(customers["own"], csat=1, nps=2, trigger="complaint")
    answered(customers["foreign"])
    headers = make_key()

    def ids(**params):
        response = client.get(RESPONSES_URL, params, **headers)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(dissatisfied="true") == [unhappy.pk]
    assert ids(dissatisfied="false", customer_number="C900000001") == [happy.pk]
    assert ids(trigger="complaint") == [unhappy.pk]
    assert ids(topic="slow_response", customer_number="C900000001") == [unhappy.pk, happy.pk]
    assert ids(submitted_from=(timezone.localdate() + timedelta(days=1)).isoformat()) == []
    assert client.get(RESPONSES_URL, {"trigger": "bogus"}, **headers).status_code == 400


def test_pages_by_cursor(client, make_key, customers):
    for _ in range(3):
        answered(customers["own"])
    first = client.get(RESPONSES_URL, {"page_size": 2}, **make_key()).json()
    second = client.get(first["next"], **make_key(name="k2")).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1


# --- Service records ------------------------------------------------------------------------


def test_key_with_service_write_records_a_service(client, make_key, customers):
    headers = make_key(scopes=["service:write"])
    UserFactory(username="teller1", branch=customers["own"].branch, roles=[Role.RELATIONSHIP_MANAGER])

    response = client.post(RECORDS_URL, record_payload(staff_username="teller1", external_ref="QMS-77"),
                           content_type="application/json", **headers)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["touchpoint"] == "transfer" and body["is_overrun"] and body["target_minutes"] == 10
    assert body["staff_username"] == "teller1" and body["handling_minutes"] == 12.0
    record = ServiceRecord.objects.get()
    assert record.customer == customers["own"] and SurveyInvitation.objects.filter(service_record=record).exists()


def test_create_is_idempotent_with_the_same_key(client, make_key, customers):
    headers = {**make_key(scopes=["service:write"]), "HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    payload = record_payload()

    first = client.post(RECORDS_URL, payload, content_type="application/json", **headers)
    again = client.post(RECORDS_URL, payload, content_type="application/json", **headers)

    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json()["id"] == first.json()["id"]
    assert ServiceRecord.objects.count() == 1 and SurveyInvitation.objects.count() == 1


def test_duplicate_external_reference_is_a_409(client, make_key, customers):
    headers = make_key(scopes=["service:write"])
    client.post(RECORDS_URL, record_payload(external_ref="QMS-1"), content_type="application/json", **headers)
    response = client.post(RECORDS_URL, record_payload(external_ref="QMS-1"), content_type="application/json",
                           **headers)
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert ServiceRecord.objects.count() == 1


@pytest.mark.parametrize(("scopes", "status"), [(["surveys:read"], 403), (["customers:write"], 403)])
def test_key_without_service_write_cannot_record(client, make_key, customers, scopes, status):
    response = client.post(RECORDS_URL, record_payload(), content_type="application/json", **make_key(scopes=scopes))
    assert response.status_code == status and not ServiceRecord.objects.exists()


def test_branch_key_cannot_reach_another_branch(client, make_key, customers, branch):
    headers = make_key(scopes=["service:write"], branch=branch)
    response = client.post(RECORDS_URL, record_payload(customer_number="C900000002"),
                           content_type="application/json", **headers)
    assert response.status_code == 404 and not ServiceRecord.objects.exists()


@pytest.mark.parametrize(("payload", "field"), [
    ({"touchpoint": "nope"}, "touchpoint"),
    ({"outcome": "won"}, "outcome"),
    ({"steps_completed": ["Dance"]}, "steps_completed"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_records_are_400_with_the_field(client, make_key, customers, payload, field):
    response = client.post(RECORDS_URL, record_payload(**payload), content_type="application/json",
                           **make_key(scopes=["service:write"]))
    assert response.status_code == 400 and field in response.json()["error"]["fields"]
    assert not ServiceRecord.objects.exists()


@pytest.mark.parametrize(("role", "status"), [("rm", 201), ("branch_manager", 201), ("complaint_desk", 201),
                                              ("auditor", 403), ("admin", 201)])
def test_staff_session_roles_for_recording(client_as, customers, role, status):
    client = client_as(role)
    customers["own"].relationship_manager = client.user
    customers["own"].save()
    response = client.post(RECORDS_URL, record_payload(), content_type="application/json")
    assert response.status_code == status
    assert ServiceRecord.objects.filter(staff=client.user).exists() is (status == 201)


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk"])
def test_staff_recording_for_a_foreign_customer_is_a_404(client_as, customers, role):
    response = client_as(role).post(RECORDS_URL, record_payload(customer_number="C900000002"),
                                    content_type="application/json")
    assert response.status_code == 404 and not ServiceRecord.objects.exists()


@pytest.mark.parametrize(("role", "visible"), [("rm", set()), ("branch_manager", {"own"}),
                                               ("complaint_desk", {"own"}), ("auditor", {"own", "foreign"}),
                                               ("admin", {"own", "foreign"})])
def test_record_list_is_scoped(client_as, customers, role, visible):
    records = {name: ServiceRecordFactory(customer=customer) for name, customer in customers.items()}
    response = client_as(role).get(RECORDS_URL)
    assert response.status_code == 200
    assert {row["id"] for row in response.json()["results"]} == {records[name].pk for name in visible}


def test_record_list_with_a_key_and_a_filter(client, make_key, customers):
    mine = ServiceRecordFactory(customer=customers["own"])
    ServiceRecordFactory(customer=customers["foreign"])
    response = client.get(RECORDS_URL, {"customer_number": "C900000001"}, **make_key(scopes=["service:read"]))
    assert [row["id"] for row in response.json()["results"]] == [mine.pk]
    assert client.get(RECORDS_URL, **make_key(name="reader", scopes=["surveys:read"])).status_code == 403


def test_reading_service_records_needs_service_read_not_service_write(client, make_key, customers):
    """service:read (issue 19) reads; a key that only records services cannot list them."""
    ServiceRecordFactory(customer=customers["own"])
    assert client.get(RECORDS_URL, **make_key(name="writer", scopes=["service:write"])).status_code == 403
    reader = make_key(name="reader2", scopes=["service:read"])
    assert client.get(RECORDS_URL, **reader).status_code == 200
    assert client.post(RECORDS_URL, record_payload(), content_type="application/json", **reader).status_code == 403


def test_schema_documents_the_endpoints(client_as):
    schema = client_as("admin").get("/api/schema/", {"format": "json"}).json()
    assert "/api/v1/survey-responses/" in schema["paths"] and "/api/v1/service-records/" in schema["paths"]
    post = schema["paths"]["/api/v1/service-records/"]["post"]
    assert any(parameter["name"] == "Idempotency-Key" for parameter in post["parameters"])


# --- Out-of-range dates are a 400, never a 500 (review finding 5) ---------------------------


@pytest.mark.parametrize("field", ["submitted_from", "submitted_to"])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2101-01-01"])
def test_survey_response_date_filters_outside_2000_to_2100_are_a_400(client, make_key, customers, field, day):
    answered(customers["own"])

    response = client.get(RESPONSES_URL, {field: day}, **make_key())

    assert response.status_code == 400
    assert response.json() == {"error": {"code": "invalid", "message": "The input is not valid.",
                                         "fields": {field: ["Enter a date between 2000-01-01 and 2100-12-31."]}}}


def test_survey_response_date_filters_accept_the_bounds(client, make_key, customers):
    mine = answered(customers["own"])
    response = client.get(RESPONSES_URL, {"submitted_from": "2000-01-01", "submitted_to": "2100-12-31"},
                          **make_key())
    assert response.status_code == 200 and [row["id"] for row in response.json()["results"]] == [mine.pk]


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59", "0001-01-01T00:00:00",
                                    "0001-01-01T00:00:00Z", "1999-12-31T10:00:00+08:00"])
@pytest.mark.parametrize("field", ["started_at", "ended_at"])
def test_service_record_times_outside_2000_to_2100_are_a_400(client, make_key, customers, field, moment):
    response = client.post(RECORDS_URL, record_payload(**{field: moment}), content_type="application/json",
                           **make_key(scopes=["service:write"]))

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert not ServiceRecord.objects.exists()


# --- A branch manager without a branch (review finding 8) -----------------------------------


def test_branch_manager_without_a_branch_reads_no_answers_or_records(client_as, customers):
    answered(customers["own"])
    answered(customers["foreign"])
    ServiceRecordFactory(customer=customers["own"])
    client = client_as("branch_manager", branch=None)

    assert client.get(RESPONSES_URL).json()["results"] == []
    assert client.get(RECORDS_URL).json()["results"] == []


@pytest.mark.parametrize(("url", "query"), [
    (RESPONSES_URL, {"topic": ""}), (RESPONSES_URL, {"submitted_from": ""}), (RESPONSES_URL, {"page_size": "x"}),
    (RECORDS_URL, {"touchpoint": ""}), (RECORDS_URL, {"page_size": "-1"}),
])
def test_a_blank_filter_or_a_bad_page_size_is_a_400(client, make_key, customers, url, query):
    """DRF would read "?touchpoint=" as no filter and "?page_size=x" as the default; the schema says both are wrong."""
    headers = make_key(scopes=["surveys:read", "service:read"])
    response = client.get(url, query, **headers)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(query)
