"""Keys on the customer endpoints: expiry and revocation refuse the next call, throttling is per
key, and the hourly beat task purges idempotency records past their lifetime."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiKey, ApiScope
from core import tasks
from core.models import AuditEvent, IdempotencyRecord
from crm_project import celery as celery_module
from tests.api.conftest import json_call

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/customers/"


def test_an_expired_key_is_refused_and_the_refusal_audited(make_key, own_customer):
    client = make_key([ApiScope.CUSTOMERS_READ], name="warehouse", expires_at=timezone.now() + timedelta(hours=1))
    assert client.get(LIST_URL).status_code == 200
    ApiKey.objects.filter(pk=client.api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(LIST_URL)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert AuditEvent.objects.filter(actor_label="api-key:warehouse", detail__reason="expired").exists()


def test_a_revoked_key_is_refused_at_once(make_key, own_customer):
    client = make_key([ApiScope.CUSTOMERS_READ, ApiScope.CUSTOMERS_WRITE], name="mobile")
    account_services.api_key_revoke(api_key=client.api_key, by=None)

    assert client.get(LIST_URL).status_code == 401
    assert json_call(client, "patch", f"{LIST_URL}{own_customer.pk}/", {"occupation": "x"}).status_code == 401
    own_customer.refresh_from_db()
    assert own_customer.occupation != "x"


def test_throttling_counts_per_key_and_says_when_to_retry(make_key, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"principal": "2/min"}}
    cache.clear()
    busy, other = make_key([ApiScope.CUSTOMERS_READ]), make_key([ApiScope.CUSTOMERS_READ])

    statuses = [busy.get(LIST_URL).status_code for _ in range(3)]
    limited = busy.get(LIST_URL)

    assert statuses == [200, 200, 429]
    assert limited.json()["error"]["code"] == "throttled"
    assert limited.json()["error"]["retry_after_seconds"] >= 1
    assert other.get(LIST_URL).status_code == 200


def test_the_purge_task_deletes_records_past_their_lifetime(make_key, branch):
    client = make_key()
    for key in ("old", "new"):
        json_call(client, "post", LIST_URL, {"external_id": f"C-{key}", "name": "周杰", "branch": branch.code},
                  HTTP_IDEMPOTENCY_KEY=key)
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    assert tasks.idempotency_records_purge_task() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_the_purge_is_in_the_beat_schedule():
    scheduled = {}

    class RecordingApp:
        def add_periodic_task(self, schedule, signature, name, **kwargs):
            scheduled[name] = (schedule, signature)

        def signature(self, task_name):
            return task_name

    celery_module.schedule_periodic_tasks(RecordingApp())

    assert scheduled["core-idempotency-records-purge"] == (3600.0, "core.idempotency_records_purge_task")
