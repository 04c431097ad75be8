"""The one pagination of the API (core.api.pagination): every list endpoint answers the same envelope,
pages by keyset (no OFFSET, no COUNT), and a walk through the pages sees every row once, even when
rows arrive while it walks and when the first ordering field ties across a page boundary."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from complaints.models import Complaint
from core.api.pagination import KeysetPagination, cursor_encode
from tests.api.conftest import ALL_SCOPES
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory, HoldingFactory, ProductFactory

pytestmark = pytest.mark.django_db

ENVELOPE = {"next", "next_cursor", "results"}


def _walk(client, url: str, *, page_size: int, key: str, between_pages=None) -> list:
    """Follow ``next`` from the first page to the last; return the ``key`` of every row, in order."""
    seen, pages = [], 0
    next_url = f"{url}?page_size={page_size}"
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == ENVELOPE
        assert len(body["results"]) <= page_size
        assert (body["next"] is None) == (body["next_cursor"] is None)
        if body["next"]:
            assert f"cursor={body['next_cursor']}" in body["next"]
        seen += [row[key] for row in body["results"]]
        next_url = body["next"]
        pages += 1
        if between_pages and next_url:
            between_pages(pages)
    return seen


def test_customers_and_complaints_walk_every_row_once_in_their_order(make_key, branch):
    """Two endpoints of two apps, one ordered by id, one newest first with ties on the time."""
    customers = CustomerFactory.create_batch(7, branch=branch)
    received = timezone.now().replace(microsecond=0) - timedelta(days=1)
    # Three complaints share one received_at: the tie straddles the page boundary at page_size=2.
    complaints = [make_complaint(customer=customers[0], received_at=received) for _ in range(3)]
    complaints += [make_complaint(customer=customers[1], received_at=received - timedelta(hours=hours))
                   for hours in (1, 2)]
    client = make_key(ALL_SCOPES)

    customer_ids = _walk(client, "/api/v1/customers/", page_size=3, key="id")
    references = _walk(client, "/api/v1/complaints/", page_size=2, key="reference")

    assert customer_ids == sorted(customer.pk for customer in customers)
    expected = sorted(complaints, key=lambda complaint: (-complaint.received_at.timestamp(), -complaint.pk))
    assert references == [complaint.reference for complaint in expected]


def test_rows_inserted_while_walking_are_neither_repeated_nor_skipped(make_key, branch):
    """A customer created between two pages (a higher id) appears once, on a later page; no row repeats."""
    customers = CustomerFactory.create_batch(5, branch=branch)
    added = []

    def insert(_pages):
        added.append(CustomerFactory(branch=branch).pk)

    seen = _walk(make_key(ALL_SCOPES), "/api/v1/customers/", page_size=2, key="id", between_pages=insert)

    assert len(seen) == len(set(seen))
    assert seen == sorted(customer.pk for customer in customers) + added[: len(seen) - len(customers)]
    assert set(customer.pk for customer in customers) <= set(seen)


def test_nullable_ordering_field_pages_open_holdings_first(make_key, branch):
    """Holdings: closed_on DESC with NULLs first (open ones), then newest; pages of 1 keep that order."""
    customer = CustomerFactory(branch=branch)
    today = timezone.localdate()
    holdings = [
        HoldingFactory(customer=customer, product=ProductFactory(code=f"P{number}"), opened_on=opened_on,
                       closed_on=closed_on)
        for number, (opened_on, closed_on) in enumerate([
            (today - timedelta(days=400), None), (today - timedelta(days=10), None),
            (today - timedelta(days=300), today - timedelta(days=5)),
            (today - timedelta(days=200), today - timedelta(days=50)),
        ])
    ]

    seen = _walk(make_key(ALL_SCOPES), f"/api/v1/customers/{customer.pk}/holdings/", page_size=1, key="id")

    assert seen == [holdings[1].pk, holdings[0].pk, holdings[2].pk, holdings[3].pk]


def test_a_page_is_one_keyset_query_without_offset_or_count(make_key, branch):
    CustomerFactory.create_batch(6, branch=branch)
    client = make_key(ALL_SCOPES)
    first = client.get("/api/v1/customers/", {"page_size": 2}).json()

    with CaptureQueriesContext(connection) as queries:
        response = client.get(first["next"])

    assert response.status_code == 200 and len(response.json()["results"]) == 2
    page_queries = [query["sql"] for query in queries if "customers_customer" in query["sql"]]
    assert page_queries, [query["sql"] for query in queries]
    for sql in page_queries:
        assert "OFFSET" not in sql.upper() and "COUNT(" not in sql.upper(), sql
    assert any("LIMIT 3" in sql for sql in page_queries), page_queries


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": ""}, {"cursor": "not base64!"}, {"cursor": "cD1qdW5r"},  # base64 of "p=junk"
        {"cursor": cursor_encode(["2026-01-01"])},  # a date where the ordering holds an id
        {"cursor": cursor_encode([1, 2])},  # two values for a one-field ordering
        {"cursor": cursor_encode([2**63])}, {"cursor": cursor_encode([True])}, {"cursor": cursor_encode([None])},
        {"page_size": "0"}, {"page_size": "-1"}, {"page_size": "1.5"}, {"page_size": ""}, {"page_size": "x"},
    ],
)
def test_a_cursor_or_page_size_the_api_did_not_issue_is_a_400(make_key, query):
    response = make_key(ALL_SCOPES).get("/api/v1/customers/", query)

    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(query)


def test_a_naive_or_malformed_time_in_a_cursor_is_a_400(make_key):
    client = make_key(ALL_SCOPES)
    for position in (["2026-01-01T10:00:00", 1], ["yesterday", 1], [1.5, 1]):
        assert client.get("/api/v1/complaints/", {"cursor": cursor_encode(position)}).status_code == 400


def test_page_size_above_the_maximum_counts_as_the_maximum(make_key, branch):
    CustomerFactory.create_batch(3, branch=branch)
    client = make_key(ALL_SCOPES)

    body = client.get("/api/v1/customers/", {"page_size": "100000"}).json()
    assert client.get("/api/v1/customers/", {"page_size": "9" * 5000}).json()["results"] == body["results"]
    default = client.get("/api/v1/customers/").json()

    assert len(body["results"]) == 3 and body["next"] is None and len(default["results"]) == 3
    assert KeysetPagination.max_page_size == 200 and KeysetPagination.page_size == 50


def test_the_former_customers_cursor_still_pages(make_key, branch):
    """Before the one pagination a customers cursor was the last id as digits; it still means "after id"."""
    customers = CustomerFactory.create_batch(3, branch=branch)
    response = make_key(ALL_SCOPES).get("/api/v1/customers/", {"cursor": str(customers[0].pk)})
    assert [row["id"] for row in response.json()["results"]] == [customers[1].pk, customers[2].pk]


def test_the_cursor_is_opaque_base64url_json_of_the_last_rows_ordering_values(make_key, branch):
    customer = CustomerFactory(branch=branch)
    make_complaint(customer=customer)
    make_complaint(customer=customer)
    latest = Complaint.objects.order_by("-received_at", "-id").first()

    cursor = make_key(ALL_SCOPES).get("/api/v1/complaints/", {"page_size": 1}).json()["next_cursor"]

    decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert decoded == [latest.received_at.isoformat(), latest.pk]


def _api_views():
    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                yield getattr(pattern.callback, "view_class", None)
    return {view for view in walk(get_resolver().url_patterns) if view is not None}


def test_every_paginated_api_view_uses_the_one_pagination():
    """No list endpoint brings its own paging: any pagination_class is a KeysetPagination."""
    paginated = [view for view in _api_views() if getattr(view, "pagination_class", None) is not None]
    assert len(paginated) >= 15
    for view in paginated:
        assert issubclass(view.pagination_class, KeysetPagination), view
        ordering = view.pagination_class.ordering
        assert ordering and ordering[-1].lstrip("-") in {"id", "customer_id", "code"}, (view, ordering)


def test_every_list_in_the_schema_is_a_page_of_the_one_envelope():
    """Every 200 response of a GET that returns an array is wrapped in the envelope, with both parameters."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    pages = 0
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get or not path.startswith("/api/v1/"):
            continue
        content = get["responses"]["200"].get("content", {}).get("application/json")
        if content is None:
            continue
        body = content["schema"]
        if "$ref" in body:
            body = components[body["$ref"].rsplit("/", 1)[-1]]
        assert body.get("type") != "array", path
        if "results" in body.get("properties", {}):
            pages += 1
            assert set(body["required"]) == ENVELOPE, path
            assert {"cursor", "page_size"} <= {parameter["name"] for parameter in get["parameters"]}, path
    assert pages >= 15
