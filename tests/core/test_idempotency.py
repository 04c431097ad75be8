"""Idempotency-Key on POST: a repeat replays, a different body conflicts, an in-flight duplicate waits."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import services
from core.idempotency import idempotency_records_purge
from core.models import IdempotencyRecord
from tests.core import api_test_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.api_test_urls")]

URL = "/api/test/echo/"


@pytest.fixture(autouse=True)
def _fresh_calls():
    api_test_urls.CALLS.clear()


@pytest.fixture
def rm_client(client_as):
    return client_as("rm")


def post(client, body, key="key-1", **extra):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(URL, body, content_type="application/json", **headers, **extra)


def test_repeat_replays_the_stored_response_without_doing_the_work_again(rm_client):
    first = post(rm_client, {"name": "Li Wei", "amount": 5})
    second = post(rm_client, {"name": "Li Wei", "amount": 5})

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json() == {"name": "Li Wei", "call": 1}
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert len(api_test_urls.CALLS) == 1
    record = IdempotencyRecord.objects.get()
    assert record.principal == f"user:{rm_client.user.pk}"
    assert record.completed_at is not None and record.status_code == 201


def test_same_key_with_a_different_body_is_a_422(rm_client):
    post(rm_client, {"name": "Li Wei"})

    response = post(rm_client, {"name": "Zhang San"})

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert len(api_test_urls.CALLS) == 1


def test_duplicate_while_the_first_is_in_flight_is_a_409(rm_client):
    post(rm_client, {"name": "Li Wei"})
    # the first request is still running: its record has no completion yet
    IdempotencyRecord.objects.update(completed_at=None, status_code=None, response_body=None)

    response = post(rm_client, {"name": "Li Wei"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_in_flight"
    assert len(api_test_urls.CALLS) == 1


def test_a_failed_request_frees_its_key_for_a_retry(rm_client):
    """An exception deletes the in-flight record, so the retry runs (and fails or succeeds on its own)."""
    response = post(rm_client, {"name": "boom"})

    assert response.status_code == 503
    assert not IdempotencyRecord.objects.exists()
    assert post(rm_client, {"name": "boom"}).status_code == 503


def test_invalid_input_is_not_stored(rm_client):
    assert post(rm_client, {"name": ""}).status_code == 400
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_per_principal(rm_client, client, db):
    """Another client using the same key string gets its own record."""
    _api_key, raw_key = services.api_key_create(name="crm-sync", scopes=["customers:write"], by=None)
    post(rm_client, {"name": "Li Wei"})

    response = post(client, {"name": "Other"}, HTTP_AUTHORIZATION=f"Api-Key {raw_key}")

    assert response.status_code == 201
    assert sorted(IdempotencyRecord.objects.values_list("principal", flat=True)) == [
        f"api-key:{_api_key.pk}", f"user:{rm_client.user.pk}"
    ]


def test_without_the_header_nothing_is_recorded(rm_client):
    post(rm_client, {"name": "Li Wei"}, key=None)
    post(rm_client, {"name": "Li Wei"}, key=None)
    assert len(api_test_urls.CALLS) == 2
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "clé"])
def test_a_malformed_key_is_a_400(rm_client, key):
    response = post(rm_client, {"name": "Li Wei"}, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    assert api_test_urls.CALLS == []


def test_an_expired_record_frees_its_key(rm_client):
    post(rm_client, {"name": "Li Wei"})
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = post(rm_client, {"name": "Zhang San"})

    assert response.status_code == 201
    assert len(api_test_urls.CALLS) == 2


def test_purge_deletes_records_older_than_a_day(rm_client):
    post(rm_client, {"name": "Li Wei"}, key="old")
    post(rm_client, {"name": "Li Wei"}, key="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert idempotency_records_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_schema_documents_the_header_and_responses(rm_client):
    schema = rm_client.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/test/echo/"]["post"]
    assert "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]]
    assert {"409", "422", "413", "400"} <= set(operation["responses"])


# serialized_rollback: restore the migrations' rows (groups, content types) the flush after this test empties,
# the way the other transactional tests do, so they can reload them with the same ids.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_concurrent_duplicate_sees_the_first_request_in_flight(user_for_role):
    """The record commits before the work starts: a duplicate sent meanwhile gets 409, later the replay."""
    user = user_for_role("rm")
    first_client, second_client = Client(), Client()
    first_client.force_login(user)
    second_client.force_login(user)
    api_test_urls.SLOW_ENTERED.clear()
    api_test_urls.SLOW_RELEASE.clear()
    results = {}

    def send_first():
        try:
            results["first"] = post(first_client, {"name": "slow"})
        finally:
            connection.close()

    thread = threading.Thread(target=send_first)
    thread.start()
    try:
        assert api_test_urls.SLOW_ENTERED.wait(timeout=10)
        duplicate = post(second_client, {"name": "slow"})
    finally:
        api_test_urls.SLOW_RELEASE.set()
        thread.join(timeout=10)

    assert duplicate.status_code == 409
    assert results["first"].status_code == 201
    replay = post(second_client, {"name": "slow"})
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == results["first"].json()
    assert len(api_test_urls.CALLS) == 1


def test_replay_works_when_the_body_was_parsed_before_the_handler(rm_client):
    """A permission that reads request.data first does not break the fingerprint."""
    url = "/api/test/echo-preread/"
    first = rm_client.post(url, {"name": "Li Wei"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    second = rm_client.post(url, {"name": "Li Wei"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    other = rm_client.post(url, {"name": "Zhang"}, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    assert (first.status_code, second.status_code, other.status_code) == (201, 201, 422)
    assert second["Idempotent-Replayed"] == "true"
    assert len(api_test_urls.CALLS) == 1
