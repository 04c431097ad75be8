"""Custom attributes declared by an admin: shown on the 360 page, filterable on the list and in the API,
and the filter is a semi-join the (attribute, value) index answers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse

from accounts import services as account_services
from accounts.models import ApiScope
from customers import selectors
from customers.models import CustomAttribute, CustomAttributeType, Customer, CustomerAttributeValue
from tests.api.conftest import ApiClientWithKey
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def salary(db):
    return CustomAttribute.objects.create(code="monthly_salary", type=CustomAttributeType.NUMBER, unit="CNY",
                                          label_zh="月工资", label_en="Monthly salary")


def give(customer, attribute, number):
    CustomerAttributeValue.objects.create(customer=customer, attribute=attribute, value_number=Decimal(number))


def test_the_360_page_shows_the_attribute_with_its_label_and_unit(client_as, salary):
    rm = client_as("rm")
    customer = CustomerFactory(relationship_manager=rm.user, branch=rm.user.branch, region="北京朝阳")
    give(customer, salary, "8500")

    content = rm.get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()

    assert "Monthly salary" in content and "8500" in content and "CNY" in content and "北京朝阳" in content


def test_the_list_filters_on_an_attribute_range(client_as, salary):
    rm = client_as("rm")
    low, high = (CustomerFactory(relationship_manager=rm.user, branch=rm.user.branch) for _ in range(2))
    give(low, salary, "3000")
    give(high, salary, "9000")

    response = rm.get(reverse("customers:customer-list"), {"attribute": "monthly_salary", "attribute_min": "5000"})

    content = response.content.decode()
    assert high.external_id in content and low.external_id not in content


def test_the_api_filters_on_an_attribute_value(salary, branch):
    low, high = CustomerFactory(branch=branch), CustomerFactory(branch=branch)
    give(low, salary, "3000")
    give(high, salary, "9000")
    api_key, raw_key = account_services.api_key_create(name="sync", scopes=[ApiScope.CUSTOMERS_READ], by=None)
    client = ApiClientWithKey(raw_key, api_key)

    body = client.get("/api/v1/customers/", {"attribute": "monthly_salary", "attribute_value": "9000"}).json()

    assert [row["external_id"] for row in body["results"]] == [high.external_id]


def test_an_unknown_attribute_or_a_bad_bound_matches_nobody(salary, branch):
    give(CustomerFactory(branch=branch), salary, "3000")
    customers = Customer.objects.all()
    assert not selectors.customer_attribute_filter(customers, code="nope", value="1").exists()
    assert not selectors.customer_attribute_filter(customers, code="monthly_salary", minimum="many").exists()


def test_the_filter_is_answered_by_the_attribute_value_index(salary, branch):
    """20,000 customers with a salary each: a narrow range is an index scan on the side table's
    (attribute, value_number, customer) index, not a scan of every value (bench figures: README)."""
    template = CustomerFactory(branch=branch)
    columns = [f.column for f in Customer._meta.concrete_fields if not (f.primary_key or f.generated)]
    copied = ", ".join("'S' || g" if column == "external_id" else column for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO customers_customer ({', '.join(columns)}) "
                       f"SELECT {copied} FROM customers_customer, generate_series(1, 20000) g WHERE id = %s",
                       [template.pk])
        cursor.execute("INSERT INTO customers_customerattributevalue (customer_id, attribute_id, value_number, "
                       "value_text) SELECT id, %s, id %% 10000, '' FROM customers_customer", [salary.pk])
        cursor.execute("ANALYZE customers_customer")
        cursor.execute("ANALYZE customers_customerattributevalue")
    customers = selectors.customer_attribute_filter(Customer.objects.all(), code="monthly_salary",
                                                    minimum="5000", maximum="5010")
    sql, params = customers.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "attr_value_number_idx" in plan, plan
    assert "Seq Scan on customers_customerattributevalue" not in plan, plan
