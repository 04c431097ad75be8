"""The OpenAPI schema documents every customers-API operation: summary, parameters, the error
responses in the one error shape, request examples, and Idempotency-Key on idempotent POSTs."""

from __future__ import annotations

import pytest

from customers.models import CREDIT_SCORE_MAX, CREDIT_SCORE_MIN

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/v1/customers/", "get"), ("/api/v1/customers/", "post"), ("/api/v1/customers/lookup/", "post"),
    ("/api/v1/customers/by-external-id/{external_id}/", "put"), ("/api/v1/customers/{customer_id}/", "get"),
    ("/api/v1/customers/{customer_id}/", "patch"), ("/api/v1/customers/{customer_id}/holdings/", "get"),
    ("/api/v1/customers/{customer_id}/holdings/{product_code}/", "put"),
    ("/api/v1/customers/{customer_id}/interactions/", "get"), ("/api/v1/customers/{customer_id}/interactions/", "post"),
    ("/api/v1/products/", "get"), ("/api/v1/products/{code}/", "get"), ("/api/v1/products/{code}/", "put"),
    ("/api/v1/transactions/bulk/", "post"),
}
IDEMPOTENT_POSTS = {"/api/v1/customers/", "/api/v1/customers/{customer_id}/interactions/", "/api/v1/transactions/bulk/"}


@pytest.fixture
def schema(make_key):
    return make_key().get("/api/schema/", {"format": "json"}).json()


def test_every_operation_is_documented_with_errors_and_examples(schema):
    documented = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert documented >= OPERATIONS
    for path, method in OPERATIONS:
        operation = schema["paths"][path][method]
        assert operation["summary"] and operation["description"], (path, method)
        assert {"400", "401", "403", "404", "429"} <= set(operation["responses"]), (path, method)
        error_schema = operation["responses"]["404"]["content"]["application/json"]["schema"]
        assert error_schema == {"$ref": "#/components/schemas/ApiError"}
        if method in ("post", "put", "patch"):
            assert "413" in operation["responses"]
            assert operation["requestBody"]["content"]["application/json"].get("examples"), (path, method)
        names = {parameter["name"] for parameter in operation.get("parameters", [])}
        assert ("Idempotency-Key" in names) is (method == "post" and path in IDEMPOTENT_POSTS), (path, method)


def test_the_bulk_endpoint_documents_the_422_with_every_bad_row(schema):
    operation = schema["paths"]["/api/v1/transactions/bulk/"]["post"]
    example = operation["responses"]["422"]["content"]["application/json"]["examples"]
    rows = next(iter(example.values()))["value"]["error"]["fields"]["rows"]
    assert {"index", "field", "reason"} == set(rows[0])
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TransactionBulkInput"}
    assert schema["components"]["schemas"]["TransactionBulkInput"]["properties"]["rows"]["maxItems"] == 10_000


def test_inputs_refuse_unknown_properties_in_the_schema(schema):
    assert schema["components"]["schemas"]["CustomerCreateInput"]["additionalProperties"] is False


def test_the_credit_score_range_in_the_schema_is_the_rules_range(schema):
    """300-850 (customers.models), so a schema-valid score is never refused as out of range."""
    for name in ("CustomerCreateInput", "PatchedCustomerUpdateInput", "CustomerUpsertInput"):
        score = schema["components"]["schemas"][name]["properties"]["credit_score"]
        assert (score["minimum"], score["maximum"]) == (CREDIT_SCORE_MIN, CREDIT_SCORE_MAX), name
