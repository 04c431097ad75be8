"""Each customer page costs a fixed number of queries, however many rows it shows (no N+1)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from customers.models import DataQualityIssue, DataQualityRule, ProductCategory
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
)

LIST_URL = reverse("customers:customer-list")
QUEUE_URL = reverse("customers:data-quality-queue")
# A ceiling as well as constancy: session, user, roles, scope and the page's own reads (the list's
# filter form reads the declared custom attributes).
MAX_QUERIES = 15
# The 360 page also renders the later chapters' panels (tier and recommendations, services and
# surveys, complaints, lifecycle), each a fixed few queries; their apps test that those stay constant
# too. Lifecycle's panel reads stage, strategy, score and open task in one query (history in a second);
# the page reads the customer's custom attribute values in one more. Issue 19 added four: consent per
# purpose and channel (1), the recommendations panel's marketing consent (1) and its declined products
# under the latest policy's cool-off (2).
MAX_QUERIES_360 = 26


def queries_for(client, url: str, *, method: str = "get", **kwargs) -> int:
    with CaptureQueriesContext(connection) as context:
        response = getattr(client, method)(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return len(context.captured_queries)


def assert_constant(client, url: str, add_rows, *, ceiling: int = MAX_QUERIES, **kwargs) -> None:
    """Measure with few rows, add many, measure again: the counts must match."""
    client.get(url)  # warm-up: first-request caches (content types, session activity) settle
    few = queries_for(client, url, **kwargs)
    add_rows()
    many = queries_for(client, url, **kwargs)
    assert few == many, f"{few} queries with few rows, {many} with many"
    assert many <= ceiling, many


def customers_with_everything(count: int, *, branch, manager, staff) -> None:
    """Customers each with an RM, a holding, a transaction, an interaction and an open issue."""
    for customer in CustomerFactory.create_batch(count, branch=branch, relationship_manager=manager):
        HoldingFactory(customer=customer)
        TransactionFactory(customer=customer)
        InteractionFactory(customer=customer, staff=staff)
        DataQualityIssue.objects.create(
            customer=customer, rule=DataQualityRule.STALE, opened_at=timezone.now()
        )


@pytest.fixture
def rms(make_user):
    return [make_user(Role.RELATIONSHIP_MANAGER, username=f"rm_{n}") for n in range(3)]


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "auditor", "admin"])
def test_customer_list_queries_are_constant(client_as, branch, role):
    """5 or 50 customers (with RMs, branches and issues): the list costs the same queries."""
    client = client_as(role)
    manager = client.user if role == "rm" else UserFactory(branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customers_with_everything(5, branch=branch, manager=manager, staff=manager)
    assert_constant(
        client, LIST_URL,
        lambda: customers_with_everything(45, branch=branch, manager=manager, staff=manager),
    )


def test_filtered_list_queries_are_constant(client_as, branch):
    """Filters and sorting (data quality uses EXISTS, not a join per row) keep the count fixed."""
    client = client_as("admin")
    customers_with_everything(5, branch=branch, manager=None, staff=None)
    params = {"q": "C", "branch": branch.pk, "status": "active", "data_quality": "with_issues",
              "order": "-total_assets"}
    assert_constant(
        client, LIST_URL,
        lambda: customers_with_everything(45, branch=branch, manager=None, staff=None),
        data=params,
    )


def test_htmx_results_fragment_queries_are_constant(client_as, branch):
    client = client_as("rm")
    customers_with_everything(5, branch=branch, manager=client.user, staff=client.user)
    assert_constant(
        client, LIST_URL,
        lambda: customers_with_everything(45, branch=branch, manager=client.user, staff=client.user),
        headers={"HX-Request": "true", "HX-Target": "customer-results"},
    )


def test_identifier_search_queries_are_constant(client_as, branch):
    """Exact search reads the blind index: one lookup, however many customers exist."""
    client = client_as("admin")
    target = CustomerFactory(branch=branch)
    customers_with_everything(5, branch=branch, manager=None, staff=None)
    client.get(LIST_URL)
    few = queries_for(client, LIST_URL, method="post", data={"phone": target.phone})
    customers_with_everything(45, branch=branch, manager=None, staff=None)
    many = queries_for(client, LIST_URL, method="post", data={"phone": target.phone})
    assert few == many <= MAX_QUERIES


def add_customer_records(customer, staff, *, count: int, start: int) -> None:
    now = timezone.now()
    categories = list(ProductCategory)
    for n in range(start, start + count):
        product = ProductFactory(category=categories[n % len(categories)])
        HoldingFactory(customer=customer, product=product)
        TransactionFactory(customer=customer, occurred_at=now - timedelta(hours=n))
        InteractionFactory(customer=customer, staff=staff, occurred_at=now - timedelta(hours=n),
                           next_step="call back", next_step_due_on=timezone.localdate() + timedelta(days=1))
    # One open issue per rule at most (a unique constraint): 2 rules, then all of them.
    rules = list(DataQualityRule)[: 2 if start == 0 else len(DataQualityRule)]
    for rule in rules:
        DataQualityIssue.objects.get_or_create(
            customer=customer, rule=rule, status="open", defaults={"opened_at": now}
        )


@pytest.mark.parametrize("role", ["rm", "branch_manager", "auditor"])
def test_customer_360_queries_are_constant(client_as, branch, role):
    """5 or 50 holdings, transactions and interactions (by several staff): the 360 page costs the same."""
    client = client_as(role)
    manager = client.user if role == "rm" else UserFactory(branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(branch=branch, relationship_manager=manager)
    staff = [UserFactory(branch=branch) for _ in range(3)]
    add_customer_records(customer, staff[0], count=5, start=0)
    url = reverse("customers:customer-detail", args=[customer.pk])

    def add_many():
        for n, member in enumerate(staff):
            add_customer_records(customer, member, count=15, start=5 + 15 * n)

    assert_constant(client, url, add_many, ceiling=MAX_QUERIES_360)


def test_transactions_fragment_queries_are_constant(client_as, branch):
    client = client_as("rm")
    customer = CustomerFactory(branch=branch, relationship_manager=client.user)
    TransactionFactory.create_batch(5, customer=customer)
    url = reverse("customers:customer-transactions", args=[customer.pk])
    assert_constant(
        client, url, lambda: TransactionFactory.create_batch(45, customer=customer),
        data={"page": 1}, headers={"HX-Request": "true"},
    )


def test_interaction_form_queries_are_constant(client_as, branch):
    client = client_as("rm")
    customer = CustomerFactory(branch=branch, relationship_manager=client.user)
    InteractionFactory.create_batch(5, customer=customer, staff=client.user)
    url = reverse("customers:interaction-create", args=[customer.pk])
    assert_constant(
        client, url, lambda: InteractionFactory.create_batch(45, customer=customer, staff=client.user)
    )


@pytest.mark.parametrize("role", ["branch_manager", "admin"])
def test_data_quality_queue_queries_are_constant(client_as, branch, role):
    """Counts by rule in one query and the page in one, whatever the number of issues."""
    client = client_as(role)
    other_branch = BranchFactory(code="B0777")
    managers = [UserFactory(branch=branch, roles=[Role.RELATIONSHIP_MANAGER]) for _ in range(2)]

    def add(count: int) -> None:
        for n in range(count):
            customers_with_everything(1, branch=branch if n % 3 else other_branch,
                                      manager=managers[n % 2], staff=None)

    add(5)
    assert_constant(client, QUEUE_URL, lambda: add(45))
    assert_constant(client, QUEUE_URL, lambda: add(5), data={"rule": DataQualityRule.STALE})
