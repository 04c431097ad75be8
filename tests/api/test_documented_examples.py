"""Every request example the OpenAPI schema documents is accepted by the API it documents.

A client developer copies the examples first; one the API rejects (an ID number with a wrong check
digit, a branch code that does not exist) costs them a support call. The examples are read from
the generated schema (not listed here), sent in a workable order with an API key holding every
scope, and each must succeed (2xx).
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from accounts.models import Role
from tests.accounts.factories import BranchFactory, UserFactory
from tests.api.conftest import json_call

# The examples refer to each other (the customer the first one creates is the one the others
# update), so they are sent in this order; an operation not listed here fails the test.
ORDER = [
    ("put", "/api/v1/products/{code}/"),
    ("post", "/api/v1/customers/"),
    ("put", "/api/v1/customers/by-external-id/{external_id}/"),
    ("patch", "/api/v1/customers/{customer_id}/"),
    ("post", "/api/v1/customers/lookup/"),
    ("put", "/api/v1/customers/{customer_id}/holdings/{product_code}/"),
    ("post", "/api/v1/customers/{customer_id}/interactions/"),
    ("post", "/api/v1/transactions/bulk/"),
    ("post", "/api/v1/service-records/"),
    ("post", "/api/v1/complaints/"),
    ("post", "/api/v1/complaints/{reference}/transitions/"),
]


def documented_request_examples() -> list[tuple[str, str, str, dict]]:
    """(method, path template, example name, body) of every request example in the schema."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                for name, example in (content.get("examples") or {}).items():
                    found.append((method, path, name, example["value"]))
    return found


@pytest.fixture
def example_world(db):
    """What the examples name: branch B0101 and its RM S00001."""
    branch = BranchFactory(code="B0101", name="Chaoyang Branch")
    UserFactory(username="rm_s00001", staff_number="S00001", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    return branch


def test_every_documented_request_example_succeeds(example_world, make_key):
    examples = documented_request_examples()
    assert len(examples) >= len(ORDER)
    unordered = {(method, path) for method, path, _name, _body in examples} - set(ORDER)
    assert not unordered, f"add these operations to ORDER: {unordered}"
    client = make_key()
    ids: dict[str, str] = {}
    for method, path, name, body in sorted(examples, key=lambda e: ORDER.index((e[0], e[1]))):
        url = re.sub(r"\{(\w+)\}", lambda match: ids[match.group(1)], _known_ids(path, body, ids))
        response = json_call(client, method, url, body)
        assert 200 <= response.status_code < 300, (method, path, name, response.status_code, response.content[:400])
        _remember_ids(path, response.json(), ids)


def _known_ids(path: str, body: dict, ids: dict[str, str]) -> str:
    if "{code}" in path:
        ids["code"] = body.get("code", "WM-EXAMPLE")
    if "{product_code}" in path:
        ids["product_code"] = ids["code"]
    return path


def _remember_ids(path: str, payload: dict, ids: dict[str, str]) -> None:
    if path == "/api/v1/customers/" and "id" in payload:
        ids["customer_id"], ids["external_id"] = str(payload["id"]), payload["external_id"]
    if path == "/api/v1/complaints/" and "reference" in payload:
        ids["reference"] = payload["reference"]
