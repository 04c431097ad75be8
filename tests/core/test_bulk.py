"""core.bulk.bulk_update_by_pk: one UPDATE ... FROM (VALUES ...) per page, values prepared as save() would."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import bulk, crypto
from customers.models import Customer
from tests.accounts.factories import BranchFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_listed_rows_get_the_new_values_encrypted_and_the_others_keep_theirs(monkeypatch):
    monkeypatch.setattr(bulk, "UPDATE_PAGE_SIZE", 2)
    branch = BranchFactory()
    changed = CustomerFactory.create_batch(3, phone="13800000000", total_assets=Decimal("1.00"))
    untouched = CustomerFactory(phone="13900000000", total_assets=Decimal("5.00"))
    for number, customer in enumerate(changed):
        customer.phone = f"1370000000{number}"
        customer.phone_bidx = crypto.blind_index(kind="phone", value=customer.phone)
        customer.total_assets = Decimal("20000.50")
        customer.birth_date = date(1980, 1, number + 1)
        customer.branch = branch

    with CaptureQueriesContext(connection) as queries:
        updated = bulk.bulk_update_by_pk(Customer, changed,
                                         ["phone", "phone_bidx", "total_assets", "birth_date", "branch_id"])

    assert updated == 3
    assert len([q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]) == 2  # pages of 2
    for number, customer in enumerate(changed):
        stored = Customer.objects.get(pk=customer.pk)
        assert (stored.phone, stored.total_assets, stored.birth_date, stored.branch_id) == (
            f"1370000000{number}", Decimal("20000.50"), date(1980, 1, number + 1), branch.pk)
        assert stored.phone_bidx == crypto.blind_index(kind="phone", value=stored.phone)
    with connection.cursor() as cursor:  # the phone is stored encrypted, never in clear
        cursor.execute("SELECT phone FROM customers_customer WHERE id = %s", [changed[0].pk])
        assert "13700000000" not in str(cursor.fetchone()[0])
    kept = Customer.objects.get(pk=untouched.pk)
    assert (kept.phone, kept.total_assets) == ("13900000000", Decimal("5.00"))


def test_nothing_to_write_sends_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert bulk.bulk_update_by_pk(Customer, [], ["phone"]) == 0
    assert not queries.captured_queries
