"""Every endpoint x every principal (each staff role, anonymous, an API key with and without the
endpoint's scope, a key limited to the home branch) x an own and a foreign customer.

"own": the home branch's customer, managed by the RM under test. "foreign": another branch's
customer with another RM. Expected: anonymous 401; a key without the scope or a staff role the
endpoint does not grant 403; a customer outside the principal's scope 404 (never 403); lists
count exactly what the selector allows. A refused write changes nothing.

Masking: only a read by an API key holding customers:reveal ("key" and "branch_key" hold every
scope) returns PII unmasked, and is audited; staff sessions, whatever their role, and every
response to a write get masked values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from accounts.models import ApiClient, ApiScope
from core.audit import AuditAction
from core.models import AuditEvent
from customers import selectors
from customers.models import Customer, Holding, Interaction, Product, Transaction
from tests.api.conftest import ALL_SCOPES, json_call
from tests.customers.factories import HoldingFactory, InteractionFactory, ProductFactory

pytestmark = pytest.mark.django_db

STAFF_ROLES = ("rm", "branch_manager", "complaint_desk", "auditor", "admin")
SERVING = {"rm", "branch_manager", "complaint_desk", "admin"}
MAINTAINING = {"rm", "branch_manager", "admin"}
# Which of the two customers each principal sees (customers.selectors).
SEES = {
    "rm": {"own"}, "branch_manager": {"own"}, "complaint_desk": {"own"},
    "auditor": {"own", "foreign"}, "admin": {"own", "foreign"},
    "key": {"own", "foreign"}, "branch_key": {"own"},
}
PRINCIPALS = (*STAFF_ROLES, "anonymous", "key", "key_without_scope", "branch_key")
REVEAL_KEYS = {"key", "branch_key"}
CUSTOMER_READS = {"customers_list", "customers_retrieve", "customers_lookup"}
CUSTOMER_WRITES = {"customers_create", "customers_partial_update", "customers_upsert"}


@dataclass(frozen=True)
class Endpoint:
    method: str
    url: Callable[[dict], str]
    scope: str
    staff: frozenset[str]
    ok: int = 200
    body: Callable[[dict], dict] | None = None
    per_customer: bool = True  # False: the target only decides the request body (create, lookup)


def _new_customer(ctx: dict, target: str) -> dict:
    branch = ctx["own"].branch if target == "own" else ctx["foreign"].branch
    manager = ctx["own"].relationship_manager if target == "own" else ctx["foreign"].relationship_manager
    return {"external_id": "NEW-1", "name": "新客户", "branch": branch.code,
            "relationship_manager": manager.staff_number}


ENDPOINTS = {
    "customers_list": Endpoint("get", lambda ctx: "/api/v1/customers/", ApiScope.CUSTOMERS_READ,
                               frozenset(STAFF_ROLES), per_customer=False),
    "customers_retrieve": Endpoint("get", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/",
                                   ApiScope.CUSTOMERS_READ, frozenset(STAFF_ROLES)),
    "customers_create": Endpoint("post", lambda ctx: "/api/v1/customers/", ApiScope.CUSTOMERS_WRITE,
                                 frozenset(MAINTAINING), ok=201, per_customer=False,
                                 body=lambda ctx: _new_customer(ctx, ctx["target_name"])),
    "customers_partial_update": Endpoint("patch", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/",
                                         ApiScope.CUSTOMERS_WRITE, frozenset(MAINTAINING),
                                         body=lambda ctx: {"occupation": "律师"}),
    "customers_upsert": Endpoint("put", lambda ctx: f"/api/v1/customers/by-external-id/{ctx['target'].external_id}/",
                                 ApiScope.CUSTOMERS_WRITE, frozenset(MAINTAINING),
                                 body=lambda ctx: {"occupation": "律师"}),
    "customers_lookup": Endpoint("post", lambda ctx: "/api/v1/customers/lookup/", ApiScope.CUSTOMERS_READ,
                                 frozenset(STAFF_ROLES), per_customer=False,
                                 body=lambda ctx: {"kind": "phone", "value": ctx["target"].phone}),
    "holdings_list": Endpoint("get", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/holdings/",
                              ApiScope.CUSTOMERS_READ, frozenset(STAFF_ROLES)),
    "holdings_upsert": Endpoint("put", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/holdings/NEWPROD/",
                                ApiScope.HOLDINGS_WRITE, frozenset(), ok=201,
                                body=lambda ctx: {"balance": "100.00", "opened_on": "2024-01-02"}),
    "interactions_list": Endpoint("get", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/interactions/",
                                  ApiScope.CUSTOMERS_READ, frozenset(STAFF_ROLES)),
    "interactions_create": Endpoint("post", lambda ctx: f"/api/v1/customers/{ctx['target'].pk}/interactions/",
                                    ApiScope.INTERACTIONS_WRITE, frozenset(SERVING), ok=201,
                                    body=lambda ctx: {"kind": "call", "occurred_at": "2026-01-05T10:00:00+08:00",
                                                      "summary": "回访", "outcome": "informed"}),
    "products_list": Endpoint("get", lambda ctx: "/api/v1/products/", ApiScope.PRODUCTS_READ,
                              frozenset(STAFF_ROLES), per_customer=False),
    "products_retrieve": Endpoint("get", lambda ctx: "/api/v1/products/NEWPROD/", ApiScope.PRODUCTS_READ,
                                  frozenset(STAFF_ROLES), per_customer=False),
    "products_upsert": Endpoint("put", lambda ctx: "/api/v1/products/NEWPROD/", ApiScope.PRODUCTS_WRITE,
                                frozenset({"admin"}), per_customer=False,
                                body=lambda ctx: {"name": "改名", "category": "deposit", "risk_level": "R1"}),
    "transactions_bulk": Endpoint("post", lambda ctx: "/api/v1/transactions/bulk/", ApiScope.TRANSACTIONS_WRITE,
                                  frozenset(), per_customer=False, body=lambda ctx: {"rows": [{
                                      "external_ref": "T-1", "customer_external_id": ctx["target"].external_id,
                                      "occurred_at": "2026-01-05T10:00:00+08:00", "amount": "10.00",
                                      "direction": "in", "channel": "atm", "type": "deposit"}]}),
}


def _principal_client(name: str, *, endpoint: Endpoint, rm_user, user_for_role, make_key, branch) -> Client:
    if name == "anonymous":
        return Client()
    if name == "key":
        return make_key(ALL_SCOPES)
    if name == "key_without_scope":
        return make_key([scope for scope in ALL_SCOPES if scope != endpoint.scope])
    if name == "branch_key":
        return make_key(ALL_SCOPES, branch=branch)
    user = rm_user if name == "rm" else user_for_role(name)
    client = Client()
    client.force_login(user)
    client.user = user
    return client


def _snapshot(own: Customer, foreign: Customer) -> tuple:
    return (
        Customer.objects.count(), Holding.objects.count(), Interaction.objects.count(),
        list(Product.objects.values_list("code", "name")), Transaction.objects.count(),
        list(Customer.objects.filter(pk__in=[own.pk, foreign.pk]).order_by("pk").values_list("occupation", flat=True)),
    )


def _expected(endpoint: Endpoint, principal: str, target: str) -> int:
    if principal == "anonymous":
        return 401
    if principal == "key_without_scope":
        return 403
    if principal in STAFF_ROLES and principal not in endpoint.staff:
        return 403
    sees = SEES[principal]
    if endpoint.per_customer and target not in sees:
        return 404
    if endpoint is ENDPOINTS["customers_create"] and target not in sees:
        return 403  # creating a customer outside one's own scope
    if endpoint is ENDPOINTS["transactions_bulk"] and target not in sees:
        return 422  # the foreign customer's number is unknown to a branch key
    return endpoint.ok


@pytest.mark.parametrize("target", ["own", "foreign"])
@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("endpoint_name", list(ENDPOINTS))
def test_permission_matrix(endpoint_name, principal, target, own_customer, foreign_customer, rm_user,
                           user_for_role, make_key, branch):
    """Status per (endpoint, principal, own/foreign customer); a refused write changes nothing."""
    endpoint = ENDPOINTS[endpoint_name]
    HoldingFactory(customer=own_customer)
    HoldingFactory(customer=foreign_customer)
    InteractionFactory(customer=own_customer)
    InteractionFactory(customer=foreign_customer)
    ProductFactory(code="NEWPROD", name="新产品")
    ctx = {"own": own_customer, "foreign": foreign_customer, "target_name": target,
           "target": own_customer if target == "own" else foreign_customer}
    client = _principal_client(principal, endpoint=endpoint, rm_user=rm_user, user_for_role=user_for_role,
                               make_key=make_key, branch=branch)
    before = _snapshot(own_customer, foreign_customer)

    response = json_call(client, endpoint.method, endpoint.url(ctx), endpoint.body(ctx) if endpoint.body else None)

    expected = _expected(endpoint, principal, target)
    assert response.status_code == expected, response.content
    body = response.json()
    if expected >= 400:
        assert set(body["error"]) >= {"code", "message", "fields"}
        if endpoint.method != "get" and endpoint_name != "customers_lookup":
            assert _snapshot(own_customer, foreign_customer) == before
    if expected == 200 and endpoint_name == "customers_list":
        visible = {customer["external_id"] for customer in body["results"]}
        assert visible == {ctx[name].external_id for name in SEES[principal]}
        principal_object = client.user if principal in STAFF_ROLES else ApiClient(client.api_key)
        allowed = selectors.customer_list_for_principal(principal=principal_object)
        assert visible == set(allowed.values_list("external_id", flat=True))
    if expected == 200 and endpoint_name == "customers_lookup":
        assert len(body["results"]) == (1 if target in SEES[principal] else 0)
    if expected < 400 and endpoint_name in CUSTOMER_READS | CUSTOMER_WRITES:
        _assert_masking(endpoint_name, principal, response, own_customer, foreign_customer)


def _assert_masking(endpoint_name: str, principal: str, response, *customers: Customer) -> None:
    body = response.json()
    rows = body.get("results", [body])
    unmasked = principal in REVEAL_KEYS and endpoint_name in CUSTOMER_READS
    assert all(row["pii_masked"] is not unmasked for row in rows)
    if not unmasked:
        for customer in customers:
            assert customer.phone.encode() not in response.content
            assert customer.id_number.encode() not in response.content
    assert AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists() is (unmasked and bool(rows))
