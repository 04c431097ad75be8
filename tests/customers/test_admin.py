"""Admin pages for customer information: masked PII, no full counts on big tables, versioned policy."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from core.audit import AuditAction
from core.models import AuditEvent, OutboxMessage
from customers import admin as customers_admin
from customers.models import DataQualityIssue, DataQualityPolicy, DataQualityRule, Transaction
from tests.accounts.factories import UserFactory
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    TransactionFactory,
)

PHONE = "13987654321"
EMAIL = "wang.fang@example.cn"
ADDRESS = "上海市浦东新区世纪大道100号"


@pytest.fixture
def admin_client(client, branch):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, branch=branch)
    client.force_login(superuser)
    client.user = superuser
    return client


@pytest.fixture
def customer(branch):
    return CustomerFactory(branch=branch, name="王芳", external_id="C555000111", phone=PHONE, email=EMAIL,
                           address=ADDRESS)


def _plaintexts(customer) -> list[str]:
    return [customer.id_number, PHONE, EMAIL, ADDRESS]


@pytest.mark.parametrize(
    "model", ["customer", "product", "holding", "transaction", "interaction", "dataqualityissue",
              "dataqualitypolicy"],
)
def test_changelists_load_with_search(admin_client, customer, model):
    """Every model is registered, and its changelist loads with a search term."""
    HoldingFactory(customer=customer, balance=Decimal("0"))
    TransactionFactory(customer=customer)
    InteractionFactory(customer=customer)
    DataQualityIssue.objects.create(customer=customer, rule=DataQualityRule.STALE,
                                    opened_at=customer.created_at)
    response = admin_client.get(reverse(f"admin:customers_{model}_changelist"), {"q": "C555000111"})
    assert response.status_code == 200


def test_customer_list_shows_masked_pii_only(admin_client, customer):
    content = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "139****4321" in content
    for plaintext in _plaintexts(customer):
        assert plaintext not in content


def test_customer_page_shows_masked_pii_and_no_pii_inputs(admin_client, customer):
    """The customer page renders masked values read-only; no form field carries an encrypted value."""
    response = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    content = response.content.decode()
    assert response.status_code == 200
    assert customer.masked_id_number in content and "139****4321" in content
    assert "w********@example.cn" in content and "上海市浦东新****" in content
    for plaintext in _plaintexts(customer):
        assert plaintext not in content
    for field in ("id_number", "phone", "email", "address"):
        assert f'name="{field}"' not in content


@pytest.mark.parametrize("term", ["C555000", "王芳"])
def test_customer_search_by_number_or_name(admin_client, customer, branch, term):
    """Customer number prefix or name find the customer."""
    CustomerFactory(branch=branch, name="李娜", external_id="C777000111")
    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": term})
    assert list(response.context["cl"].result_list) == [customer]


@pytest.mark.parametrize("field", ["phone", "id_number"])
def test_admin_search_never_matches_an_identifier_from_the_url(admin_client, customer, field):
    """Admin search is a GET (?q= in URLs and logs): exact ID / phone search is the POSTed form only."""
    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": getattr(customer, field)})
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize("model", ["customer", "holding", "transaction", "interaction", "dataqualityissue"])
def test_rows_written_elsewhere_cannot_be_added_or_changed(admin_client, customer, model):
    """Customers, holdings, transactions, interactions and issues are read-only in admin."""
    assert admin_client.get(reverse(f"admin:customers_{model}_add")).status_code == 403


def test_customer_cannot_be_deleted_or_edited(admin_client, customer):
    assert admin_client.get(reverse("admin:customers_customer_delete", args=[customer.pk])).status_code == 403
    admin_client.post(reverse("admin:customers_customer_change", args=[customer.pk]), {"name": "改名"})
    customer.refresh_from_db()
    assert customer.name == "王芳"


def test_transaction_list_never_counts_the_whole_table(admin_client, customer):
    """The transaction changelist counts at most COUNT_CAP + 1 rows and sorts by the primary key."""
    TransactionFactory.create_batch(3, customer=customer)
    with CaptureQueriesContext(connection) as ctx:
        response = admin_client.get(reverse("admin:customers_transaction_changelist"))
    assert response.status_code == 200
    transaction_queries = [q["sql"] for q in ctx.captured_queries if '"customers_transaction"' in q["sql"]]
    counts = [sql for sql in transaction_queries if "COUNT(" in sql.upper()]
    assert counts and all("LIMIT" in sql.upper() for sql in counts)
    listing = next(sql for sql in transaction_queries if "COUNT(" not in sql.upper())
    assert 'ORDER BY "customers_transaction"."id" DESC' in listing
    assert 'INNER JOIN "customers_customer"' in listing  # list_select_related


def test_capped_paginator_estimates_unfiltered_big_tables(customer, monkeypatch):
    """Beyond the cap an unfiltered table reports the planner's estimate, a filtered one the cap."""
    monkeypatch.setattr(customers_admin.CappedCountPaginator, "COUNT_CAP", 2)
    TransactionFactory.create_batch(5, customer=customer)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_transaction")
    transactions = Transaction.objects.order_by("-id")
    unfiltered = customers_admin.CappedCountPaginator(transactions, 1)
    filtered = customers_admin.CappedCountPaginator(transactions.filter(amount__gt=0), 1)
    empty = customers_admin.CappedCountPaginator(transactions.filter(pk=-1), 1)
    assert (unfiltered.count, filtered.count, empty.count) == (5, 2, 0)
    # Only the first COUNT_CAP rows are pageable: no link to an OFFSET deep in the table.
    assert (unfiltered.num_pages, filtered.num_pages, empty.num_pages) == (2, 2, 1)


def test_admin_pages_are_for_administrators_only(client, customer, make_user):
    """A staff user who is not an administrator (e.g. a branch manager) cannot open customer admin."""
    manager = make_user(Role.BRANCH_MANAGER, username="bm_zhou", is_staff=True)
    client.force_login(manager)
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 403


def test_run_data_quality_action_queues_the_selected_customers(admin_client, customer, branch):
    """The action queues the pass for the selected customers (never runs it in the request)."""
    broken = CustomerFactory(branch=branch, occupation="")
    CustomerFactory(branch=branch, occupation="")
    response = admin_client.post(
        reverse("admin:customers_customer_changelist"),
        {"action": "run_data_quality", "_selected_action": [customer.pk, broken.pk]},
        follow=True,
    )
    assert "Data-quality check queued for 2 customers" in response.content.decode()
    message = OutboxMessage.objects.get()
    assert message.task_name == "customers.data_quality_run_task"
    assert sorted(message.kwargs["customer_ids"]) == sorted([customer.pk, broken.pk])
    assert not DataQualityIssue.objects.exists()


# --- Data-quality policy --------------------------------------------------------------------------


def test_policy_add_form_starts_from_latest_version(admin_client):
    response = admin_client.get(reverse("admin:customers_dataqualitypolicy_add"))
    form = response.context["adminform"].form
    assert (form.initial["stale_after_days"], form.initial["assets_tolerance_pct"]) == (365, Decimal("10.00"))


def test_saving_policy_creates_new_version_through_service(admin_client):
    """Saving the add form makes version 2 (audited); version 1 is untouched."""
    response = admin_client.post(
        reverse("admin:customers_dataqualitypolicy_add"),
        {"stale_after_days": "180", "assets_tolerance_pct": "5.00"},
    )
    assert response.status_code == 302
    latest = DataQualityPolicy.objects.order_by("-version").first()
    assert (latest.version, latest.stale_after_days, latest.assets_tolerance_pct, latest.created_by) == (
        2, 180, Decimal("5.00"), admin_client.user)
    assert DataQualityPolicy.objects.get(version=1).stale_after_days == 365
    assert AuditEvent.objects.filter(action="customers.data_quality_policy_create").count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_policy_form_rejects_zero_days(admin_client):
    response = admin_client.post(
        reverse("admin:customers_dataqualitypolicy_add"),
        {"stale_after_days": "0", "assets_tolerance_pct": "5.00"},
    )
    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert DataQualityPolicy.objects.count() == 1


def test_old_policy_versions_cannot_be_edited_or_deleted(admin_client):
    policy = DataQualityPolicy.objects.get(version=1)
    admin_client.post(reverse("admin:customers_dataqualitypolicy_change", args=[policy.pk]),
                      {"stale_after_days": "1", "assets_tolerance_pct": "1.00"})
    delete_url = reverse("admin:customers_dataqualitypolicy_delete", args=[policy.pk])
    assert admin_client.get(delete_url).status_code == 403
    policy.refresh_from_db()
    assert policy.stale_after_days == 365
