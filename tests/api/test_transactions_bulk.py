"""POST /api/v1/transactions/bulk/: all or nothing, every bad row listed, retries never duplicate,
at most 10,000 rows, and Idempotency-Key replay / conflict / in flight."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiScope
from core.models import AuditEvent, IdempotencyRecord
from customers import services
from customers.models import Transaction
from tests.api.conftest import json_call
from tests.customers.factories import CustomerFactory, TransactionFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/transactions/bulk/"


def row(number: int, customer, **overrides) -> dict:
    return {
        "external_ref": f"TX{number:010d}", "customer_external_id": customer.external_id,
        "occurred_at": "2026-11-27T09:15:00+08:00", "amount": f"{number % 997 + 1}.50", "direction": "in",
        "channel": "mobile", "type": "deposit", **overrides,
    }


@pytest.fixture
def ingest_client(make_key):
    return make_key([ApiScope.TRANSACTIONS_WRITE], name="core-banking")


@pytest.fixture
def customers(branch):
    return CustomerFactory.create_batch(3, branch=branch)


def test_a_valid_batch_is_inserted_and_a_retry_counts_rows_already_present(ingest_client, customers):
    rows = [row(number, customers[number % 3]) for number in range(500)]

    first = json_call(ingest_client, "post", URL, {"rows": rows})
    retry = json_call(ingest_client, "post", URL, {"rows": [*rows[:100], row(900, customers[0])]})

    assert first.json() == {"received": 500, "inserted": 500, "already_present": 0}
    assert retry.json() == {"received": 101, "inserted": 1, "already_present": 100}
    assert Transaction.objects.count() == 501
    stored = Transaction.objects.get(external_ref="TX0000000007")
    assert (str(stored.amount), stored.customer_id) == ("8.50", customers[1].pk)
    assert stored.occurred_at == timezone.datetime.fromisoformat("2026-11-27T01:15:00+00:00")
    events = AuditEvent.objects.filter(action=services.AUDIT_API_TRANSACTIONS_INGEST).order_by("id")
    assert [event.actor_label for event in events] == ["api-key:core-banking"] * 2
    assert events[1].detail == {"received": 101, "inserted": 1, "already_present": 100}


def test_references_with_quotes_commas_braces_and_backslashes_are_stored_verbatim(ingest_client, customers):
    """The rows travel to PostgreSQL as array literals; their quoting must hold for any text."""
    refs = ['a"b', "c,d", "{e}", "f\\g", "h i", "中文-ref", "NULL"]
    rows = [row(number, customers[0], external_ref=ref) for number, ref in enumerate(refs)]

    assert json_call(ingest_client, "post", URL, {"rows": rows}).json()["inserted"] == len(refs)
    assert sorted(Transaction.objects.values_list("external_ref", flat=True)) == sorted(refs)


def test_a_stored_row_keeps_its_values_when_a_retry_differs(ingest_client, customers):
    TransactionFactory(external_ref="TX0000000001", customer=customers[0])
    response = json_call(ingest_client, "post", URL, {"rows": [row(1, customers[0], amount="99999.00")]})
    assert response.json()["already_present"] == 1
    assert str(Transaction.objects.get().amount) == "500.00"


def test_one_bad_row_among_10000_writes_nothing_and_is_listed(ingest_client, customers):
    rows = [row(number, customers[number % 3]) for number in range(10_000)]
    rows[4711]["amount"] = "-5.00"

    response = json_call(ingest_client, "post", URL, {"rows": rows})

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert [(problem["index"], problem["field"]) for problem in error["fields"]["rows"]] == [(4711, "amount")]
    assert error["fields"]["rows"][0]["reason"]
    assert not Transaction.objects.exists()


def test_every_bad_row_is_listed_with_index_field_and_reason(ingest_client, customers):
    rows = [row(number, customers[0]) for number in range(12)]
    rows[0]["amount"] = 12.5                       # not a string
    rows[1]["amount"] = "0.00"                     # not positive
    rows[2]["amount"] = "1.234"                    # three decimals
    rows[3]["occurred_at"] = "2026-11-27T09:15:00"  # no offset
    rows[4]["occurred_at"] = "2126-01-01T00:00:00Z"  # the future
    rows[5]["direction"] = "sideways"
    rows[6]["customer_external_id"] = "NOBODY"
    rows[7]["external_ref"] = rows[8]["external_ref"]  # repeated inside the batch: row 8 is the repeat
    del rows[9]["channel"]
    rows[10]["colour"] = "red"
    rows[11] = ["not", "an", "object"]

    response = json_call(ingest_client, "post", URL, {"rows": rows})

    assert response.status_code == 422
    problems = {(problem["index"], problem["field"]) for problem in response.json()["error"]["fields"]["rows"]}
    assert problems == {
        (0, "amount"), (1, "amount"), (2, "amount"), (3, "occurred_at"), (4, "occurred_at"), (5, "direction"),
        (6, "customer_external_id"), (8, "external_ref"), (9, "channel"), (10, "colour"), (11, ""),
    }
    assert not Transaction.objects.exists()


def test_more_than_10000_rows_are_refused_with_a_413(ingest_client, customers):
    rows = [row(number, customers[0]) for number in range(10_001)]
    response = json_call(ingest_client, "post", URL, {"rows": rows})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert not Transaction.objects.exists()


@pytest.mark.parametrize("body", [[], {"rows": "x"}, {"rows": [], "extra": 1}, {}])
def test_a_body_of_the_wrong_shape_is_a_400(ingest_client, body):
    assert json_call(ingest_client, "post", URL, body).status_code == 400


def test_a_branch_key_cannot_book_on_another_branchs_customer(make_key, branch, foreign_customer, customers):
    client = make_key([ApiScope.TRANSACTIONS_WRITE], branch=branch)
    response = json_call(client, "post", URL, {"rows": [row(1, customers[0]), row(2, foreign_customer)]})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["rows"][0]["index"] == 1
    assert not Transaction.objects.exists()


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_idempotency_key_replays_refuses_another_body_and_reports_in_flight(ingest_client, customers):
    body = {"rows": [row(1, customers[0])]}
    headers = {"HTTP_IDEMPOTENCY_KEY": "batch-2026-11-27-001"}

    first = json_call(ingest_client, "post", URL, body, **headers)
    replay = json_call(ingest_client, "post", URL, body, **headers)
    other = json_call(ingest_client, "post", URL, {"rows": [row(2, customers[0])]}, **headers)

    assert first.json() == replay.json() == {"received": 1, "inserted": 1, "already_present": 0}
    assert replay["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    assert AuditEvent.objects.filter(action=services.AUDIT_API_TRANSACTIONS_INGEST).count() == 1

    IdempotencyRecord.objects.update(completed_at=None, status_code=None, response_body=None)
    in_flight = json_call(ingest_client, "post", URL, body, **headers)
    assert in_flight.status_code == 409 and in_flight.json()["error"]["code"] == "idempotency_in_flight"
    assert Transaction.objects.count() == 1


def test_a_rejected_batch_frees_its_key_for_the_corrected_batch(ingest_client, customers):
    """Nothing was written, so the key is not spent: the fixed batch may reuse it."""
    headers = {"HTTP_IDEMPOTENCY_KEY": "batch-7"}
    rejected = json_call(ingest_client, "post", URL, {"rows": [row(1, customers[0], amount="x")]}, **headers)
    assert rejected.status_code == 422
    fixed = json_call(ingest_client, "post", URL, {"rows": [row(1, customers[0])]}, **headers)
    assert fixed.json() == {"received": 1, "inserted": 1, "already_present": 0}


def test_customer_create_with_idempotency_key_creates_once(make_key, branch):
    client = make_key()
    body = {"external_id": "C-IDEM", "name": "孙丽", "branch": branch.code}
    headers = {"HTTP_IDEMPOTENCY_KEY": "create-c-idem"}
    first = json_call(client, "post", "/api/v1/customers/", body, **headers)
    again = json_call(client, "post", "/api/v1/customers/", body, **headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert IdempotencyRecord.objects.filter(created_at__gte=timezone.now() - timedelta(minutes=1)).count() == 1
