"""Complaints API: scopes and roles, create (idempotent), list with filters, read, transitions."""

from __future__ import annotations

import pytest

from accounts import services as account_services
from accounts.models import ApiScope
from complaints.models import Complaint, ComplaintStatus
from tests.accounts.factories import BranchFactory
from tests.complaints.factories import make_complaint

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/complaints/"


@pytest.fixture
def api_client_with(client):
    def make(*scopes, branch=None):
        created = account_services.api_key_create(name=f"sys-{'-'.join(scopes) or 'none'}", scopes=list(scopes),
                                                  branch=branch, by=None)
        _api_key, raw_key = created
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {raw_key}"
        return client
    return make


def _create_body(branch, **overrides):
    return {"contact_name": "赵先生", "contact_phone": "13600001111", "branch": branch.code, "channel": "phone",
            "category": "B0302", "severity": "high", "description": "信用卡盗刷"} | overrides


def test_create_with_write_scope_is_idempotent(api_client_with, branch):
    client = api_client_with(ApiScope.COMPLAINTS_WRITE)
    headers = {"HTTP_IDEMPOTENCY_KEY": "call-123"}
    first = client.post(LIST_URL, _create_body(branch), content_type="application/json", **headers)
    again = client.post(LIST_URL, _create_body(branch), content_type="application/json", **headers)
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert Complaint.objects.count() == 1
    assert first.json()["reference"] == Complaint.objects.get().reference
    assert first.json()["allowed_actions"] == ["acknowledge", "escalate"]


def test_a_key_of_one_branch_cannot_log_for_another(api_client_with, branch):
    other = BranchFactory(code="B0909", name="Haidian Branch")
    client = api_client_with(ApiScope.COMPLAINTS_WRITE, branch=branch)
    refused = client.post(LIST_URL, _create_body(other), content_type="application/json")
    allowed = client.post(LIST_URL, _create_body(branch), content_type="application/json")
    assert refused.status_code == 400 and "branch" in refused.content.decode()
    assert allowed.status_code == 201
    assert list(Complaint.objects.values_list("branch__code", flat=True)) == [branch.code]


def test_read_scope_cannot_create(api_client_with, branch):
    response = api_client_with(ApiScope.COMPLAINTS_READ).post(LIST_URL, _create_body(branch),
                                                              content_type="application/json")
    assert response.status_code == 403 and not Complaint.objects.exists()


def test_list_filters_and_branch_limited_key(api_client_with, branch):
    mine = make_complaint(branch=branch, severity="high")
    make_complaint(branch=BranchFactory(code="B0777"))
    client = api_client_with(ApiScope.COMPLAINTS_READ, branch=branch)
    data = client.get(LIST_URL, {"severity": "high", "status": "open"}).json()
    assert [row["reference"] for row in data["results"]] == [mine.reference]


def test_transitions_and_invalid_transition_is_409(api_client_with, branch):
    complaint = make_complaint(branch=branch)
    client = api_client_with(ApiScope.COMPLAINTS_READ, ApiScope.COMPLAINTS_WRITE)
    url = f"/api/v1/complaints/{complaint.reference}/transitions/"
    response = client.post(url, {"action": "close"}, content_type="application/json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "invalid_transition"
    response = client.post(url, {"action": "acknowledge", "expected_version": 1}, content_type="application/json")
    assert response.status_code == 200 and response.json()["status"] == ComplaintStatus.ACKNOWLEDGED
    assert response.json()["events"][-1]["actor"].startswith("api-key:")
    response = client.post(url, {"action": "escalate", "expected_version": 1}, content_type="application/json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    response = client.post(url, {"action": "resolve", "resolution": "", "root_cause": "C01"},
                           content_type="application/json")
    assert response.status_code == 400 and "resolution" in response.json()["error"]["fields"]
    detail = client.get(f"/api/v1/complaints/{complaint.reference}/").json()
    assert detail["status"] == "acknowledged" and len(detail["events"]) == 2


@pytest.mark.parametrize(("role", "read", "write"), [
    ("rm", 403, 403), ("branch_manager", 200, 200), ("complaint_desk", 200, 200), ("auditor", 200, 403),
    ("admin", 200, 200),
])
def test_staff_session_role_matrix(client_as, branch, role, read, write):
    complaint = make_complaint(branch=branch)
    client = client_as(role)
    assert client.get(LIST_URL).status_code == read
    assert client.get(f"/api/v1/complaints/{complaint.reference}/").status_code == read
    response = client.post(f"/api/v1/complaints/{complaint.reference}/transitions/", {"action": "acknowledge"},
                           content_type="application/json")
    assert response.status_code == write
    complaint.refresh_from_db()
    assert (complaint.status == ComplaintStatus.ACKNOWLEDGED) == (write == 200)


def test_anonymous_gets_401(client, branch):
    assert client.get(LIST_URL).status_code == 401
    assert client.post(LIST_URL, _create_body(branch), content_type="application/json").status_code == 401


def test_unknown_reference_is_404(api_client_with):
    assert api_client_with(ApiScope.COMPLAINTS_READ).get("/api/v1/complaints/TS20000101-000001/").status_code == 404


@pytest.mark.parametrize("action", ["read", "transition"])
def test_reference_with_a_nul_character_is_a_404(api_client_with, action):
    """PostgreSQL refuses NUL in a query; a reference cannot hold one, so it is not found (not a 500)."""
    client = api_client_with(ApiScope.COMPLAINTS_READ, ApiScope.COMPLAINTS_WRITE)
    if action == "read":
        response = client.get("/api/v1/complaints/TS%00/")
    else:
        response = client.post("/api/v1/complaints/TS%00/transitions/", {"action": "acknowledge"},
                               content_type="application/json")
    assert response.status_code == 404


@pytest.mark.parametrize("query", [{"branch": ""}, {"status": ""}, {"page_size": "x"}, {"page_size": "0"}])
def test_list_with_a_blank_filter_or_a_bad_page_size_is_a_400(api_client_with, branch, query):
    """DRF would read "?branch=" as no filter and "?page_size=x" as the default; the schema says both are wrong."""
    response = api_client_with(ApiScope.COMPLAINTS_READ).get(LIST_URL, query)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(query)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("field", ["received_from", "received_to"])
def test_list_with_an_out_of_range_date_is_a_400(api_client_with, branch, field, day):
    response = api_client_with(ApiScope.COMPLAINTS_READ).get(LIST_URL, {field: day})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid" and field in response.json()["error"]["fields"]


def test_list_filters_by_received_dates(api_client_with, branch):
    from datetime import UTC, datetime

    old = make_complaint(branch=branch, received_at=datetime(2026, 1, 10, 2, 0, tzinfo=UTC),
                         now=datetime(2026, 1, 10, 2, 0, tzinfo=UTC))
    new = make_complaint(branch=branch)
    client = api_client_with(ApiScope.COMPLAINTS_READ)
    data = client.get(LIST_URL, {"received_from": "2026-01-10", "received_to": "2026-01-10"}).json()
    assert [row["reference"] for row in data["results"]] == [old.reference]
    data = client.get(LIST_URL, {"received_from": "2026-01-11", "received_to": "2100-12-31"}).json()
    assert [row["reference"] for row in data["results"]] == [new.reference]


@pytest.mark.parametrize("received_at", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_create_with_an_out_of_range_received_at_is_a_400(api_client_with, branch, received_at):
    client = api_client_with(ApiScope.COMPLAINTS_WRITE)
    response = client.post(LIST_URL, _create_body(branch, received_at=received_at), content_type="application/json")
    assert response.status_code == 400
    assert "received_at" in response.json()["error"]["fields"]
    assert not Complaint.objects.exists()
