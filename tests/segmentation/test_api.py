"""Segmentation API: scopes for keys, roles for staff, 404 outside the scope, the tier filter."""

import pytest
from django.urls import reverse

from accounts import services as account_services
from accounts.models import Role
from core.models import AuditEvent
from segmentation import services
from tests.accounts.factories import BranchFactory
from tests.customers.factories import CustomerFactory, HoldingFactory, ProductFactory
from tests.segmentation.conftest import classify, give_services, give_transactions

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_world(policy, branch, make_user, make_customer):
    owner = make_user(Role.RELATIONSHIP_MANAGER, username="api_rm")
    vip = make_customer(relationship_manager=owner)
    give_transactions(vip, amounts=[1_500_000])
    give_services(vip, count=5)
    general = make_customer(relationship_manager=owner)
    HoldingFactory(customer=general, product=ProductFactory(code="DEP-A"))
    foreign = CustomerFactory(branch=BranchFactory(code="B0777", name="Far Branch"))
    classify()
    services.recommendation_run()
    return {"owner": owner, "vip": vip, "general": general, "foreign": foreign, "branch": branch}


def key_headers(scopes, branch=None, name="crm-test"):
    _key, raw = account_services.api_key_create(name=name, scopes=list(scopes), by=None, branch=branch)
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw}"}


def segment_url(customer) -> str:
    return reverse("segmentation-api:customer-segment", args=[customer.pk])


def test_key_with_scope_reads_a_customer_segment(client, api_world):
    response = client.get(segment_url(api_world["vip"]), **key_headers(["segments:read"]))
    assert response.status_code == 200
    body = response.json()
    assert (body["tier"], body["value_class"], body["value_rule"]) == ("vip", "vip", "vip_amount_and_services")
    assert body["figures"]["service_count"] == "5"
    assert body["policy_version"] == 1
    assert "clv_cny" in body["clv"]
    assert len(body["recommendations"]) <= 3


def test_key_without_the_scope_is_refused(client, api_world):
    response = client.get(segment_url(api_world["vip"]), **key_headers(["customers:read"]))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_branch_limited_key_gets_404_for_another_branch(client, api_world):
    headers = key_headers(["segments:read"], branch=api_world["branch"])
    assert client.get(segment_url(api_world["foreign"]), **headers).status_code == 404
    assert client.get(segment_url(api_world["vip"]), **headers).status_code == 200


def test_anonymous_is_401(client, api_world):
    assert client.get(segment_url(api_world["vip"])).status_code == 401


@pytest.mark.parametrize(("role", "own_status", "foreign_status"), [
    ("rm", 200, 404), ("branch_manager", 200, 404), ("complaint_desk", 200, 404), ("auditor", 200, 200),
    ("admin", 200, 200),
])
def test_staff_read_through_their_customer_scope(client, make_user, api_world, role, own_status, foreign_status):
    if role == "rm":
        user = api_world["owner"]
    else:
        user = make_user({"branch_manager": Role.BRANCH_MANAGER, "complaint_desk": Role.COMPLAINT_DESK,
                          "auditor": Role.COMPLIANCE_AUDITOR, "admin": Role.ADMIN}[role], username=f"api_{role}")
    client.force_login(user)
    assert client.get(segment_url(api_world["vip"])).status_code == own_status
    assert client.get(segment_url(api_world["foreign"])).status_code == foreign_status


def test_list_filters_by_tier_and_pages_by_id(client, api_world):
    headers = key_headers(["segments:read"])
    url = reverse("segmentation-api:segment-list")
    body = client.get(url + "?tier=vip", **headers).json()
    assert [row["customer_id"] for row in body["results"]] == [api_world["vip"].pk]
    first = client.get(url + "?page_size=1", **headers).json()
    assert len(first["results"]) == 1 and first["next_cursor"]
    rest = client.get(url, {"page_size": 100, "cursor": first["next_cursor"]}, **headers).json()
    assert rest["next_cursor"] is None and rest["next"] is None
    ids = [row["customer_id"] for row in first["results"] + rest["results"]]
    assert len(ids) == 3 and ids == sorted(ids)
    assert client.get(url + "?tier=platinum", **headers).status_code == 400
    assert client.get(url, **key_headers(["customers:read"], name="other")).status_code == 403
    assert client.get(url).status_code == 401


def test_list_for_a_branch_limited_key_leaves_out_other_branches(client, api_world):
    body = client.get(reverse("segmentation-api:segment-list"),
                      **key_headers(["segments:read"], branch=api_world["branch"])).json()
    assert api_world["foreign"].pk not in [row["customer_id"] for row in body["results"]]


@pytest.mark.parametrize(("role", "count"), [
    ("rm", 2), ("branch_manager", 2), ("complaint_desk", 2), ("auditor", 3), ("admin", 3),
])
def test_list_for_staff_follows_their_customer_scope(client, make_user, api_world, role, count):
    if role == "rm":
        user = api_world["owner"]
    else:
        user = make_user({"branch_manager": Role.BRANCH_MANAGER, "complaint_desk": Role.COMPLAINT_DESK,
                          "auditor": Role.COMPLIANCE_AUDITOR, "admin": Role.ADMIN}[role], username=f"list_{role}")
    client.force_login(user)
    body = client.get(reverse("segmentation-api:segment-list")).json()
    assert len(body["results"]) == count


def test_list_refuses_staff_without_a_role(client, make_user, api_world):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(reverse("segmentation-api:segment-list")).status_code == 403
    assert client.get(segment_url(api_world["vip"])).status_code == 403


def test_a_probe_outside_the_scope_is_audited(client, api_world):
    headers = key_headers(["segments:read"], branch=api_world["branch"], name="probe")
    client.get(segment_url(api_world["foreign"]), **headers)
    event = AuditEvent.objects.filter(action="customers.out_of_scope").latest("id")
    assert event.actor_label == "api-key:probe" and event.detail == {"customer_id": api_world["foreign"].pk}
