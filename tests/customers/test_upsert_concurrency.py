"""customer_upsert_by_external_id under concurrency: INSERT ... ON CONFLICT, so two callers upserting
one new customer at the same moment both succeed (one creates, the other updates)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from accounts import services as account_services
from accounts.models import ApiClient, ApiScope
from customers import services
from customers.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0


def test_two_concurrent_upserts_of_one_new_customer_both_succeed(branch):
    # given: an API key, and a first caller that has inserted C-RACE but not committed yet
    api_key, _raw = account_services.api_key_create(
        name="core-banking", scopes=[ApiScope.CUSTOMERS_READ, ApiScope.CUSTOMERS_WRITE], by=None)
    api_key = ApiClient(api_key)
    first_inserted, release_first = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = services.customer_upsert_by_external_id(
                    by=api_key, external_id="C-RACE", fields={"name": "王芳", "branch": branch.code})
                first_inserted.set()
                release_first.wait(30)
        except Exception as error:  # reported below
            results["first"] = error
            first_inserted.set()
        finally:
            connection.close()

    def second() -> None:
        first_inserted.wait(30)
        try:
            results["second"] = services.customer_upsert_by_external_id(
                by=api_key, external_id="C-RACE",
                fields={"name": "王芳", "branch": branch.code, "occupation": "教师"})
        except Exception as error:
            results["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()

    # when: the second caller is blocked on the first one's uncommitted row, the first commits
    first_inserted.wait(30)
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock() and time.monotonic() < deadline and "second" not in results:
        time.sleep(0.05)
    saw_the_second_wait = _waiting_on_a_lock()
    release_first.set()
    for thread in threads:
        thread.join(60)

    # then: both succeeded, one created and one updated the same customer
    assert saw_the_second_wait, results
    first_customer, first_created = results["first"]
    second_customer, second_created = results["second"]
    assert (first_created, second_created) == (True, False)
    assert first_customer.pk == second_customer.pk
    assert Customer.objects.filter(external_id="C-RACE").count() == 1
    assert Customer.objects.get(external_id="C-RACE").occupation == "教师"
