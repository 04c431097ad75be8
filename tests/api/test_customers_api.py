"""Customers over the API: filters and cursor pages, create / PATCH / upsert by customer number,
lookup by number in the body, masking and the audited reveal, holdings, interactions, products,
and bad input that must be a 4xx in the one error shape, never a 500."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.utils import timezone

from accounts.models import ApiScope
from core.audit import AuditAction
from core.idempotency import REPLAYED_HEADER
from core.models import AuditEvent, IdempotencyRecord
from customers import services
from customers.models import Customer, CustomerStatus, Holding, Interaction, Product
from tests.api.conftest import ALL_SCOPES, json_call
from tests.customers.factories import CustomerFactory, HoldingFactory, resident_id

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/customers/"
READ_ONLY = [ApiScope.CUSTOMERS_READ, ApiScope.PRODUCTS_READ]


def error_of(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and {"code", "message", "fields"} <= set(body["error"])
    return body["error"]


# --- List, filters, cursor pagination -------------------------------------------------------


def test_list_pages_through_every_customer_once_in_id_order(make_key, branch):
    customers = CustomerFactory.create_batch(7, branch=branch)
    client = make_key(READ_ONLY)

    seen, url = [], f"{LIST_URL}?page_size=3"
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]

    assert seen == sorted(customer.pk for customer in customers)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"branch": "B0202"}, {"foreign"}),
        ({"status": "closed"}, {"closed"}),
        ({"relationship_manager": "S10001"}, {"own"}),
        ({"search": "欧阳"}, {"foreign"}),
        ({"search": "OWN-"}, {"own"}),
        ({"updated_since": "recent"}, {"own"}),
    ],
)
def test_list_filters(make_key, own_customer, foreign_customer, branch, query, expected):
    """Branch code, status, RM staff number, name contains / number starts with, updated since."""
    Customer.objects.filter(pk=own_customer.pk).update(external_id="OWN-1", updated_at=timezone.now())
    Customer.objects.filter(pk=foreign_customer.pk).update(name="欧阳娜", updated_at=timezone.now() - timedelta(days=3))
    closed = CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=timezone.localdate())
    Customer.objects.filter(pk=closed.pk).update(updated_at=timezone.now() - timedelta(days=3))
    names = {own_customer.pk: "own", foreign_customer.pk: "foreign", closed.pk: "closed"}
    if query.get("updated_since") == "recent":
        query = {"updated_since": (timezone.now() - timedelta(days=1)).isoformat()}

    response = make_key(READ_ONLY).get(LIST_URL, query)

    assert response.status_code == 200
    assert {names[row["id"]] for row in response.json()["results"]} == expected


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "abc"}, {"cursor": "9" * 40}, {"cursor": "-1"}, {"page_size": "0"}, {"page_size": "-1"},
        {"page_size": "x"}, {"status": "gone"}, {"updated_since": "yesterday"}, {"updated_since": ""},
        {"search": "x" * 101}, {"search": "a\x00b"},
    ],
)
def test_bad_list_parameters_are_a_400(make_key, query):
    response = make_key(READ_ONLY).get(LIST_URL, query)
    assert response.status_code == 400
    # A NUL anywhere in the query string is refused before the view (core middleware, issue 16 finding 7).
    has_nul = any("\x00" in value for value in query.values())
    assert error_of(response)["code"] == ("parse_error" if has_nul else "invalid")
    assert set(error_of(response)["fields"]) == set(query)


def test_list_query_count_does_not_grow_with_the_page(make_key, branch, django_assert_max_num_queries):
    CustomerFactory.create_batch(30, branch=branch)
    client = make_key(READ_ONLY)
    client.get(LIST_URL)  # warm the key's last_used_at write
    # auth (key), the page, throttle uses the cache
    with django_assert_max_num_queries(3):
        response = client.get(LIST_URL, {"page_size": 30})
    assert len(response.json()["results"]) == 30


# --- Masking and the audited reveal ------------------------------------------------------------


def test_pii_is_masked_without_reveal_and_nothing_is_audited(make_key, own_customer):
    response = make_key(READ_ONLY).get(f"{LIST_URL}{own_customer.pk}/")

    body = response.json()
    assert body["pii_masked"] is True
    assert body["phone"] == own_customer.masked_phone != own_customer.phone
    assert body["id_number"] == own_customer.masked_id_number
    assert body["email"] == own_customer.masked_email
    assert body["address"] == own_customer.masked_address
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_reveal_scope_unmasks_and_audits_ids_and_fields_never_values(make_key, own_customer, foreign_customer):
    client = make_key([*READ_ONLY, ApiScope.CUSTOMERS_REVEAL], name="call-centre")

    body = client.get(LIST_URL).json()

    assert {row["phone"] for row in body["results"]} == {own_customer.phone, foreign_customer.phone}
    event = AuditEvent.objects.get(action=AuditAction.PII_REVEAL)
    assert event.actor_label == "api-key:call-centre"
    assert sorted(event.detail["customer_ids"]) == sorted([own_customer.pk, foreign_customer.pk])
    assert own_customer.phone not in str(event.detail) and own_customer.id_number not in str(event.detail)


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "auditor", "admin"])
def test_staff_sessions_always_get_masked_pii_and_nothing_is_audited(client, rm_user, user_for_role, own_customer,
                                                                     role):
    """Revealing is a page action: no staff role reads unmasked PII through the API, not even a bulk page."""
    client.force_login(rm_user if role == "rm" else user_for_role(role))

    responses = [
        client.get(LIST_URL, {"page_size": 200}),
        client.get(f"{LIST_URL}{own_customer.pk}/"),
        json_call(client, "post", f"{LIST_URL}lookup/", {"kind": "phone", "value": own_customer.phone}),
    ]

    listed, retrieved, looked_up = (response.json() for response in responses)
    rows = [*listed["results"], retrieved, *looked_up["results"]]
    assert len(rows) == 3 and all(row["pii_masked"] is True for row in rows)
    assert {row["phone"] for row in rows} == {own_customer.masked_phone}
    assert {row["id_number"] for row in rows} == {own_customer.masked_id_number}
    for response in responses:
        assert own_customer.phone.encode() not in response.content
        assert own_customer.id_number.encode() not in response.content
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


# --- Create, PATCH, upsert -------------------------------------------------------------------------


def new_customer_body(**overrides) -> dict:
    return {"external_id": "C-NEW-1", "name": "赵敏", "branch": "B0101", "phone": "13811112222",
            "id_number": resident_id(birth_date=date(1990, 3, 7), sequence=1), "birth_date": "1990-03-07",
            **overrides}


def test_create_stores_encrypted_pii_and_audits_the_key(make_key, branch):
    client = make_key(name="core-banking")

    response = json_call(client, "post", LIST_URL, new_customer_body())

    assert response.status_code == 201, response.content
    customer = Customer.objects.get(external_id="C-NEW-1")
    assert customer.phone == "13811112222" and customer.info_updated_at is not None
    event = AuditEvent.objects.get(action=services.AUDIT_API_CUSTOMER_CREATE)
    assert event.actor_label == "api-key:core-banking" and event.target_id == str(customer.pk)
    assert "13811112222" not in str(event.detail)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"id_number": "110105199003070010"}, "id_number"),  # wrong check character
        ({"branch": "NOPE"}, "branch"),
        ({"relationship_manager": "S99999"}, "relationship_manager"),
        ({"status": "closed"}, "closed_on"),
        ({"closed_on": "2020-01-01"}, "closed_on"),
        ({"birth_date": "1850-01-01"}, "birth_date"),
        ({"total_assets": "-1.00"}, "total_assets"),
        ({"total_assets": 100}, "total_assets"),
        ({"total_assets": "NaN"}, "total_assets"),
        ({"name": "x" * 101}, "name"),
        ({"name": 5}, "name"),
        ({"external_id": "has space"}, "external_id"),
        ({"occupation": "a\x00b"}, "occupation"),
        ({"nickname": "小赵"}, "nickname"),
    ],
)
def test_create_refuses_bad_input_with_a_400_naming_the_field(make_key, branch, overrides, field):
    response = json_call(make_key(), "post", LIST_URL, new_customer_body(**overrides))

    assert response.status_code == 400, response.content
    assert field in error_of(response)["fields"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("write", ["create", "patch", "upsert_new", "upsert_existing"])
def test_writes_return_pii_masked_even_to_a_reveal_key(make_key, own_customer, write):
    """The caller sent the values: a write's response is masked and reveals (audits) nothing."""
    client = make_key(ALL_SCOPES)
    body = {"phone": "13811112222", "email": "zhao.min@example.cn", "address": "北京市海淀区中关村大街1号"}
    method, url, body = {
        "create": ("post", LIST_URL, new_customer_body(**body)),
        "patch": ("patch", f"{LIST_URL}{own_customer.pk}/", body),
        "upsert_new": ("put", f"{LIST_URL}by-external-id/C-UP-9/", {**body, "name": "赵敏", "branch": "B0101"}),
        "upsert_existing": ("put", f"{LIST_URL}by-external-id/{own_customer.external_id}/", body),
    }[write]

    response = json_call(client, method, url, body)

    assert response.status_code in (200, 201), response.content
    written = response.json()
    assert written["pii_masked"] is True
    assert written["phone"] == "138****2222"
    assert written["email"] == "z*******@example.cn"
    assert "13811112222" not in response.content.decode() and "中关村大街1号" not in response.content.decode()
    assert Customer.objects.get(pk=written["id"]).phone == "13811112222"
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


@pytest.mark.parametrize("principal", ["reveal_key", "rm_session"])
def test_an_idempotent_create_stores_no_plaintext_pii_and_replays_the_same(client, make_key, rm_user, branch,
                                                                           principal):
    """The response kept for Idempotency-Key replays (plain JSONB, 24 h) holds masked PII only."""
    if principal == "reveal_key":
        client = make_key(ALL_SCOPES)
    else:
        client.force_login(rm_user)
    body = new_customer_body(email="zhao.min@example.cn", address="北京市海淀区中关村大街1号",
                             relationship_manager=rm_user.staff_number)
    plaintext = [body["phone"], body["id_number"], body["email"], body["address"]]

    first = json_call(client, "post", LIST_URL, body, HTTP_IDEMPOTENCY_KEY="create-zhao-min")
    replay = json_call(client, "post", LIST_URL, body, HTTP_IDEMPOTENCY_KEY="create-zhao-min")

    assert first.status_code == 201, first.content
    stored = json.dumps(IdempotencyRecord.objects.get(key="create-zhao-min").response_body, ensure_ascii=False)
    assert stored and not [value for value in plaintext if value in stored]
    assert json.loads(stored)["pii_masked"] is True
    assert (replay.status_code, replay[REPLAYED_HEADER], replay.json()) == (201, "true", first.json())
    assert Customer.objects.filter(external_id=body["external_id"]).count() == 1
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_a_lookup_is_a_read_and_never_stores_its_response(make_key, own_customer):
    """The lookup may answer a reveal key unmasked, so it ignores Idempotency-Key: nothing is kept."""
    client = make_key([*READ_ONLY, ApiScope.CUSTOMERS_REVEAL])

    response = json_call(client, "post", f"{LIST_URL}lookup/", {"kind": "phone", "value": own_customer.phone},
                         HTTP_IDEMPOTENCY_KEY="lookup-1")

    assert response.json()["results"][0]["phone"] == own_customer.phone
    assert not IdempotencyRecord.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).count() == 1


def test_create_with_a_taken_customer_number_is_a_409(make_key, own_customer):
    response = json_call(make_key(), "post", LIST_URL, new_customer_body(external_id=own_customer.external_id))
    assert response.status_code == 409
    assert "external_id" in error_of(response)["fields"]


def test_patch_changes_only_the_fields_sent(make_key, own_customer):
    response = json_call(make_key(), "patch", f"{LIST_URL}{own_customer.pk}/", {"occupation": "律师"})

    assert response.status_code == 200
    own_customer.refresh_from_db()
    assert own_customer.occupation == "律师" and own_customer.name == response.json()["name"]


def test_patch_cannot_break_the_closed_on_rule(make_key, own_customer):
    response = json_call(make_key(), "patch", f"{LIST_URL}{own_customer.pk}/", {"status": "closed"})
    assert response.status_code == 400
    own_customer.refresh_from_db()
    assert own_customer.status == CustomerStatus.ACTIVE


def test_rm_cannot_hand_a_customer_to_another_branch(client, rm_user, own_customer, other_branch):
    """The result of a write must stay in the writer's scope: 403 and nothing changes."""
    client.force_login(rm_user)
    response = json_call(client, "patch", f"{LIST_URL}{own_customer.pk}/", {"branch": other_branch.code,
                                                                          "relationship_manager": None})
    assert response.status_code == 403
    own_customer.refresh_from_db()
    assert own_customer.branch_id != other_branch.pk


def test_upsert_creates_then_updates_and_a_repeat_changes_nothing(make_key, branch):
    client = make_key()
    url = f"{LIST_URL}by-external-id/C-UP-1/"
    body = {"name": "钱多多", "branch": branch.code, "occupation": "商人"}

    first = json_call(client, "put", url, body)
    second = json_call(client, "put", url, body)
    third = json_call(client, "put", url, {"occupation": "教师"})

    assert (first.status_code, second.status_code, third.status_code) == (201, 200, 200)
    assert Customer.objects.filter(external_id="C-UP-1").count() == 1
    assert Customer.objects.get(external_id="C-UP-1").occupation == "教师"
    assert AuditEvent.objects.filter(action=services.AUDIT_API_CUSTOMER_UPDATE).count() == 1


def test_upsert_of_a_new_customer_needs_name_and_branch(make_key):
    response = json_call(make_key(), "put", f"{LIST_URL}by-external-id/C-UP-2/", {"occupation": "x"})
    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {"name", "branch"}


def test_upsert_of_a_customer_outside_the_scope_is_a_404(make_key, foreign_customer, branch):
    client = make_key(ALL_SCOPES, branch=branch)
    response = json_call(client, "put", f"{LIST_URL}by-external-id/{foreign_customer.external_id}/",
                         {"occupation": "x"})
    assert response.status_code == 404


# --- Lookup ---------------------------------------------------------------------------------------


def test_lookup_by_phone_in_any_spelling_is_audited_without_the_number(make_key, own_customer):
    client = make_key(READ_ONLY, name="mobile-app")
    spelled = f"+86 {own_customer.phone[:3]}-{own_customer.phone[3:7]}-{own_customer.phone[7:]}"

    response = json_call(client, "post", f"{LIST_URL}lookup/", {"kind": "phone", "value": spelled})

    assert [row["id"] for row in response.json()["results"]] == [own_customer.pk]
    event = AuditEvent.objects.get(action=services.AUDIT_IDENTIFIER_SEARCH)
    assert event.actor_label == "api-key:mobile-app"
    assert event.detail == {"kind": "phone", "matches": 1, "via": "api"}


def test_lookup_is_never_a_get(make_key):
    """Numbers never travel in a URL: the lookup answers POST only."""
    response = make_key(READ_ONLY).get(f"{LIST_URL}lookup/", {"kind": "phone", "value": "1"})
    assert response.status_code in (403, 405)
    assert "results" not in response.json()


# --- Holdings, interactions, products ------------------------------------------------------------


def test_holding_upsert_by_customer_and_product_is_idempotent(make_key, own_customer, product):
    client = make_key()
    url = f"{LIST_URL}{own_customer.pk}/holdings/{product.code}/"
    body = {"balance": "5000.00", "opened_on": "2024-01-02"}

    assert json_call(client, "put", url, body).status_code == 201
    assert json_call(client, "put", url, body).status_code == 200
    assert json_call(client, "put", url, {**body, "balance": "6000.00"}).json()["balance"] == "6000.00"
    assert Holding.objects.filter(customer=own_customer).count() == 1
    assert client.get(f"{LIST_URL}{own_customer.pk}/holdings/").json()["results"][0]["balance"] == "6000.00"


def test_holding_upsert_needs_a_reference_when_the_product_is_held_twice(make_key, own_customer, product):
    HoldingFactory.create_batch(2, customer=own_customer, product=product)
    url = f"{LIST_URL}{own_customer.pk}/holdings/{product.code}/"
    client = make_key()

    assert json_call(client, "put", url, {"balance": "1.00", "opened_on": "2024-01-02"}).status_code == 409
    assert json_call(client, "put", url, {"balance": "1.00", "opened_on": "2024-01-02",
                                          "closed_on": "2023-01-01"}).status_code == 400
    assert json_call(client, "put", f"{LIST_URL}{own_customer.pk}/holdings/NOPE/",
                     {"balance": "1.00", "opened_on": "2024-01-02"}).status_code == 404


def test_interaction_by_a_key_has_no_staff_and_names_the_key_in_the_audit(make_key, own_customer):
    client = make_key(name="call-centre")
    url = f"{LIST_URL}{own_customer.pk}/interactions/"
    body = {"kind": "call", "occurred_at": timezone.now().isoformat(), "summary": "到期提醒", "outcome": "informed"}

    response = json_call(client, "post", url, body)

    assert response.status_code == 201 and response.json()["staff"] is None
    assert AuditEvent.objects.get(action=services.AUDIT_API_INTERACTION_RECORD).actor_label == "api-key:call-centre"
    future = {**body, "occurred_at": (timezone.now() + timedelta(days=1)).isoformat()}
    assert json_call(client, "post", url, future).status_code == 400
    assert Interaction.objects.count() == 1
    assert len(client.get(url).json()["results"]) == 1


def test_product_upsert_and_read(make_key):
    writer = make_key([ApiScope.PRODUCTS_WRITE, ApiScope.PRODUCTS_READ])
    body = {"name": "稳健理财", "category": "wealth", "risk_level": "R2"}

    assert json_call(writer, "put", "/api/v1/products/W-90/", body).status_code == 201
    assert json_call(writer, "put", "/api/v1/products/W-90/", body).status_code == 200
    assert json_call(writer, "put", "/api/v1/products/W-90/", {**body, "is_active": "no"}).status_code == 400
    assert writer.get("/api/v1/products/W-90/").json()["name"] == "稳健理财"
    assert writer.get("/api/v1/products/", {"category": "wealth"}).json()["results"][0]["code"] == "W-90"
    assert writer.get("/api/v1/products/NOPE/").status_code == 404
    assert Product.objects.count() == 1


# --- Bad input in general ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "raw", "content_type", "status"),
    [
        ("post", LIST_URL, b"{not json", "application/json", 400),
        ("post", LIST_URL, b'{"name": "\xff\xfe"}', "application/json", 400),
        ("post", LIST_URL, b"[1, 2]", "application/json", 400),
        ("post", LIST_URL, b"name=x", "application/x-www-form-urlencoded", 415),
        ("patch", f"{LIST_URL}abc/", b"{}", "application/json", 404),
        ("get", f"{LIST_URL}99999999999999999999999/", b"", "application/json", 404),
        ("delete", f"{LIST_URL}1/", b"", "application/json", 405),
    ],
)
def test_malformed_requests_get_a_4xx_in_the_error_shape(make_key, method, url, raw, content_type, status):
    response = getattr(make_key(), method)(url, raw, content_type=content_type)
    assert response.status_code == status
    error_of(response)


def test_an_oversized_body_is_a_413(make_key, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = json_call(make_key(), "post", LIST_URL, new_customer_body(occupation="x" * 2000))
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"



# --- Masked reads by API keys are tallied per key, endpoint and hour (issue 19) ------------------


def test_masked_reads_are_audited_in_aggregate(make_key, own_customer, foreign_customer, client, rm_user):
    from core.models import ApiReadTally

    crm_sync = make_key(READ_ONLY, name="crm-sync")
    crm_sync.get(LIST_URL)
    crm_sync.get(LIST_URL)
    crm_sync.get(f"{LIST_URL}{own_customer.pk}/")
    client.force_login(rm_user)
    client.get(LIST_URL)  # staff sessions are not tallied

    tallies = {(t.principal_label, t.endpoint): (t.requests, t.rows) for t in ApiReadTally.objects.all()}
    assert tallies == {
        ("api-key:crm-sync", "GET /api/v1/customers/"): (2, 4),
        ("api-key:crm-sync", "GET /api/v1/customers/<str:customer_id>/"): (1, 1),
    }
    assert ApiReadTally.objects.first().hour.minute == 0


def test_an_auditor_reads_the_tallies_in_admin(client_as, make_key, own_customer):
    make_key(READ_ONLY, name="bulk").get(LIST_URL)
    page = client_as("auditor", is_staff=True).get("/admin/core/apireadtally/")
    assert page.status_code == 200 and "api-key:bulk" in page.content.decode()
