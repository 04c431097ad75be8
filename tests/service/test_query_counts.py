"""Each service list page and endpoint costs a fixed number of queries, however many rows it shows (no N+1)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from service.services import survey_response_submit
from tests.customers.factories import CustomerFactory
from tests.service.factories import ServiceRecordFactory, invitation_with_token, touchpoint

# Session, user, roles, scope and the page's own reads.
MAX_QUERIES = 20
# The 360 page also reads consent per channel, the panel's marketing consent and the declined
# products under the policy's cool-off (issue 19): four more, still constant.
MAX_QUERIES_360 = 28


def queries_for(client, url: str, **kwargs) -> int:
    with CaptureQueriesContext(connection) as context:
        response = client.get(url, **kwargs)
    assert response.status_code == 200, response.status_code
    return len(context.captured_queries)


def assert_constant(client, url: str, add_rows, *, ceiling: int = MAX_QUERIES) -> None:
    client.get(url)  # warm-up
    few = queries_for(client, url)
    add_rows()
    many = queries_for(client, url)
    assert few == many, f"{few} queries with few rows, {many} with many"
    assert many <= ceiling, many


def add_answered_services(count: int, *, customer, staff, dissatisfied: bool = True) -> None:
    for n in range(count):
        service_record = ServiceRecordFactory(customer=customer, staff=staff, minutes=5 + n,
                                              touchpoint=touchpoint(["consultation", "transfer"][n % 2]))
        invitation, _token = invitation_with_token(customer=customer, service_record=service_record)
        survey_response_submit(invitation=invitation, csat=1 if dissatisfied else 5, nps=3 if dissatisfied else 10,
                               comment="排队太慢 fee")


@pytest.fixture
def rm_client(client_as, branch):
    client = client_as("rm")
    client.customer = CustomerFactory(branch=branch, relationship_manager=client.user)
    add_answered_services(1, customer=client.customer, staff=client.user)
    return client


def test_follow_up_list(rm_client, branch):
    def more():
        for _ in range(4):
            customer = CustomerFactory(branch=branch, relationship_manager=rm_client.user)
            add_answered_services(2, customer=customer, staff=rm_client.user)

    assert_constant(rm_client, reverse("service:follow-up-list") + "?show=all", more)


def test_customer_360_with_the_service_panel(rm_client):
    assert_constant(
        rm_client, reverse("customers:customer-detail", args=[rm_client.customer.pk]),
        lambda: add_answered_services(8, customer=rm_client.customer, staff=rm_client.user),
        ceiling=MAX_QUERIES_360,
    )


def test_service_report(client_as, branch):
    client = client_as("branch_manager")
    customer = CustomerFactory(branch=branch)
    add_answered_services(1, customer=customer, staff=client.user, dissatisfied=False)
    assert_constant(client, reverse("service:service-report"),
                    lambda: add_answered_services(12, customer=customer, staff=client.user, dissatisfied=False))


@pytest.mark.parametrize("url", ["/api/v1/survey-responses/", "/api/v1/service-records/"])
def test_api_lists(client_as, branch, url):
    client = client_as("branch_manager")
    customer = CustomerFactory(branch=branch)
    add_answered_services(1, customer=customer, staff=client.user)
    assert_constant(client, url, lambda: add_answered_services(10, customer=CustomerFactory(branch=branch),
                                                               staff=client.user))
