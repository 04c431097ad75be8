"""The lifecycle API: every role and key scope, and scope by branch."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ApiScope
from lifecycle.models import RetentionStatus
from tests.api.conftest import ApiClientWithKey


def _key(scopes, **kwargs):
    api_key, raw = account_services.api_key_create(name=f"k-{'-'.join(scopes) or 'none'}", scopes=list(scopes),
                                                   by=None, **kwargs)
    return ApiClientWithKey(raw, api_key)


def _urls(scored):
    return {
        "customer": reverse("lifecycle-api:customer-lifecycle", args=[scored["own"].pk]),
        "scores": reverse("lifecycle-api:churn-score-list"),
        "tasks": reverse("lifecycle-api:retention-task-list"),
    }


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
@pytest.mark.parametrize("endpoint", ["customer", "scores", "tasks"])
def test_staff_read_matrix(client, client_as, scored, role, status, endpoint):
    if role == "rm":
        client.force_login(scored["rm"])  # the RM who serves the scored customer
    else:
        client = client_as(role)
    assert client.get(_urls(scored)[endpoint]).status_code == status


@pytest.mark.parametrize(("scopes", "endpoint", "status"), [
    ((ApiScope.LIFECYCLE_READ,), "customer", 200), ((ApiScope.LIFECYCLE_READ,), "scores", 200),
    ((ApiScope.LIFECYCLE_READ,), "tasks", 403), ((ApiScope.RETENTION_READ,), "tasks", 200),
    ((ApiScope.RETENTION_READ,), "scores", 403), ((ApiScope.CUSTOMERS_READ,), "customer", 403),
    ((ApiScope.SEGMENTS_READ,), "scores", 403),
])
def test_key_scope_matrix(scored, scopes, endpoint, status):
    assert _key([s.value for s in scopes]).get(_urls(scored)[endpoint]).status_code == status


def test_customer_lifecycle_has_probability_and_worded_reasons(scored):
    body = _key([ApiScope.LIFECYCLE_READ.value]).get(_urls(scored)["customer"]).json()
    assert body["churn"]["probability"] == 0.83
    assert body["churn"]["reasons"][0]["text"] == "no transaction for 94 days"


def test_branch_key_sees_only_its_branch(scored, branch):
    client = _key([ApiScope.LIFECYCLE_READ.value], branch=branch)
    ids = [row["customer_id"] for row in client.get(_urls(scored)["scores"]).json()["results"]]
    assert ids == [scored["own"].pk]
    foreign = reverse("lifecycle-api:customer-lifecycle", args=[scored["foreign"].pk])
    assert client.get(foreign).status_code == 404


def test_rm_scored_list_is_their_customers(client, scored):
    client.force_login(scored["rm"])
    body = client.get(_urls(scored)["scores"], {"min_probability": 0.5}).json()
    assert [row["customer_id"] for row in body["results"]] == [scored["own"].pk]
    run = scored["run"]
    assert {(row["run_id"], row["as_of"], row["model_version"]) for row in body["results"]} == {
        (run.pk, run.as_of.isoformat(), run.model.version)}
    assert set(body) == {"next", "next_cursor", "results"}


@pytest.mark.parametrize(("scopes", "status"), [((ApiScope.RETENTION_WRITE,), 200), ((ApiScope.RETENTION_READ,), 403)])
def test_key_records_a_task_outcome_only_with_write_scope(scored, scopes, status):
    url = reverse("lifecycle-api:retention-task-record", args=[scored["task"].pk])
    response = _key([s.value for s in scopes]).post(url, {"action_taken": "called", "outcome": "retained"},
                                                     content_type="application/json")
    assert response.status_code == status
    scored["task"].refresh_from_db()
    assert scored["task"].status == (RetentionStatus.DONE if status == 200 else RetentionStatus.OPEN)


@pytest.mark.parametrize(("role", "status"), [("branch_manager", 200), ("auditor", 403), ("complaint_desk", 403)])
def test_staff_write_matrix(client_as, scored, role, status):
    url = reverse("lifecycle-api:retention-task-record", args=[scored["task"].pk])
    response = client_as(role).post(url, {"action_taken": "visit", "outcome": "unreachable"},
                                    content_type="application/json")
    assert response.status_code == status
