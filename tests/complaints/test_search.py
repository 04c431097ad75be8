"""The queue's search by reference, complainant name and phone: POST only, scoped, blind index, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from complaints import selectors, services
from complaints.backfill import complaint_contact_phone_bidx_backfill
from complaints.models import Complaint
from core import crypto
from core.models import AuditEvent
from tests.accounts.factories import BranchFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

QUEUE = "complaints:complaint-list"
ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def walk_in(branch):
    return make_complaint(branch=branch, contact_name="李秀英", contact_phone="+86 137-1111-2222")


@pytest.fixture
def other_branch_complaint():
    return make_complaint(branch=BranchFactory(code="B0202", name="Haidian Branch"), contact_name="李秀英",
                          contact_phone="13711112222")


def _search(client, **data):
    return client.post(reverse(QUEUE), data)


# --- Who may search --------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("branch_manager", 200), ("complaint_desk", 200),
                                              ("auditor", 200), ("admin", 200)])
def test_the_search_is_open_to_exactly_the_queue_roles(client_as, walk_in, role, status):
    response = _search(client_as(role), reference=walk_in.reference)
    assert response.status_code == status
    if status == 200:
        assert walk_in.reference in response.content.decode()


def test_an_anonymous_search_goes_to_the_login_page(client, walk_in):
    response = _search(client, phone="13711112222")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not AuditEvent.objects.filter(action=services.AUDIT_SEARCH).exists()


# --- What it finds ---------------------------------------------------------------------------


def test_a_phone_finds_the_walk_in_in_any_spelling_through_the_blind_index(client_as, walk_in):
    """Given a walk-in logged with "+86 137-1111-2222", when the desk types 137 1111 2222, it is found."""
    desk = client_as("complaint_desk")
    content = _search(desk, phone="137 1111 2222").content.decode()
    assert walk_in.reference in content and "李秀英" in content
    assert walk_in.contact_phone_bidx == crypto.blind_index(kind="phone", value="13711112222")


def test_a_phone_finds_a_linked_customers_complaint_by_the_customers_phone(client_as, branch):
    customer = CustomerFactory(branch=branch, phone="13922223333", name="王芳")
    complaint = make_complaint(customer=customer)
    content = _search(client_as("complaint_desk"), phone="0086 139 2222 3333").content.decode()
    assert complaint.reference in content and "王芳" in content


def test_the_search_never_decrypts_a_row_to_compare(client_as, walk_in, monkeypatch):
    """The phone is matched on the blind index: no stored phone is decrypted for the search."""
    calls = []
    real_decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda **kwargs: calls.append(1) or real_decrypt(**kwargs))
    list(selectors.complaint_search_visible_to(user=client_as("complaint_desk").user, phone="13711112222"))
    assert calls == []


def test_a_name_finds_walk_ins_and_linked_customers(client_as, branch, walk_in):
    linked = make_complaint(customer=CustomerFactory(branch=branch, name="李秀梅"))
    other = make_complaint(branch=branch, contact_name="赵强", contact_phone="13755556666")
    content = _search(client_as("complaint_desk"), name="李秀").content.decode()
    assert walk_in.reference in content and linked.reference in content
    assert other.reference not in content


def test_a_reference_matches_exactly_or_by_its_beginning(client_as, branch):
    day = timezone.now() - timedelta(days=40)
    old = make_complaint(branch=branch, received_at=day, now=day)
    new = make_complaint(branch=branch)
    desk = client_as("complaint_desk")
    exact = _search(desk, reference=old.reference.lower()).content.decode()
    assert old.reference in exact and new.reference not in exact
    prefix = old.reference.split("-")[0]  # TSyyyymmdd: that day's complaints
    by_day = _search(desk, reference=prefix).content.decode()
    assert old.reference in by_day and new.reference not in by_day


def test_terms_combine_and_closed_complaints_are_found_too(client_as, branch, walk_in):
    """A caller may ask about an old, closed complaint: the search spans every status."""
    Complaint.objects.filter(pk=walk_in.pk).update(status="closed", resolved_at=walk_in.received_at,
                                                   closed_at=walk_in.received_at)
    desk = client_as("complaint_desk")
    assert walk_in.reference in _search(desk, name="李秀英", phone="13711112222").content.decode()
    assert walk_in.reference not in _search(desk, name="赵", phone="13711112222").content.decode()


# --- Scope -----------------------------------------------------------------------------------


def test_the_desk_never_finds_another_branchs_complaint(client_as, walk_in, other_branch_complaint):
    content = _search(client_as("complaint_desk"), phone="13711112222").content.decode()
    assert walk_in.reference in content
    assert other_branch_complaint.reference not in content
    by_reference = _search(client_as("complaint_desk", username="desk2"),
                           reference=other_branch_complaint.reference).content.decode()
    assert 'id="complaint-search-empty"' in by_reference


def test_head_office_finds_every_branch(client_as, walk_in, other_branch_complaint):
    content = _search(client_as("auditor"), phone="13711112222").content.decode()
    assert walk_in.reference in content and other_branch_complaint.reference in content


def test_an_rm_finds_nothing_even_through_the_selector(make_user, branch, walk_in):
    """RMs have no complaint scope: another RM's (or anyone's) complaint is never returned."""
    from accounts.models import Role

    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_x")
    customer = CustomerFactory(branch=branch, relationship_manager=rm, phone="13744445555")
    make_complaint(customer=customer)
    other_rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_y")
    assert list(selectors.complaint_search_visible_to(user=other_rm, phone="13744445555")) == []
    assert list(selectors.complaint_search_visible_to(user=rm, phone="13744445555")) == []


# --- PII stays out of URLs; messages; input kept ---------------------------------------------


def test_the_search_form_posts_and_no_pii_reaches_a_url(client_as, walk_in):
    desk = client_as("complaint_desk")
    page = desk.get(reverse(QUEUE)).content.decode()
    assert 'id="complaint-search"' in page and 'method="post"' in page
    response = _search(desk, name="李秀英", phone="13711112222")
    content = response.content.decode()
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    # Every link and htmx URL on the answer is free of the terms.
    import re

    for url in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]*)"', content):
        assert "13711112222" not in url and "李秀英" not in url and "%E6%9D%8E" not in url
    # Pages are POST buttons of the same form, never links with the terms.
    assert 'hx-get="/complaints/?' not in content


def test_a_get_with_terms_in_the_query_string_does_not_search(client_as, walk_in):
    """Terms in a URL are ignored: the queue shows, nothing is looked up or audited."""
    content = client_as("complaint_desk").get(reverse(QUEUE), {"phone": "13711112222", "name": "李秀英"}).content
    assert 'id="search-results-heading"' not in content.decode()
    assert not AuditEvent.objects.filter(action=services.AUDIT_SEARCH).exists()


@pytest.mark.parametrize(("phone", "message"), [
    ("12345", "5 digits"),
    ("1371111222", "11 digits and starts with 13-19 (you entered 10 digits)"),
    ("137-1111-22a2", "only digits"),
])
def test_a_wrong_format_phone_is_a_format_error_not_no_match(client_as, walk_in, phone, message):
    response = _search(client_as("complaint_desk"), phone=phone)
    content = response.content.decode()
    assert response.status_code == 200
    assert message in content
    assert 'id="complaint-search-empty"' not in content  # not "no match"
    assert f'value="{phone}"' in content  # kept to correct it
    assert not AuditEvent.objects.filter(action=services.AUDIT_SEARCH).exists()


def test_a_landline_with_area_code_is_a_valid_phone(client_as, branch):
    complaint = make_complaint(branch=branch, contact_name="周杰", contact_phone="010-6512 3456")
    assert complaint.reference in _search(client_as("complaint_desk"), phone="01065123456").content.decode()


def test_no_match_says_so_and_keeps_the_input(client_as, walk_in):
    content = _search(client_as("complaint_desk"), phone="13799998888", name="不存在").content.decode()
    assert 'id="complaint-search-empty"' in content and "No complaint you may see matches this search" in content
    assert 'value="13799998888"' in content and 'value="不存在"' in content


def test_an_empty_search_asks_for_a_term(client_as, walk_in):
    content = _search(client_as("complaint_desk")).content.decode()
    assert "Enter a reference number, a name or a phone number to search for." in content
    assert walk_in.reference not in content


def test_a_name_or_phone_search_is_audited_without_the_terms(client_as, walk_in):
    desk = client_as("complaint_desk")
    _search(desk, reference=walk_in.reference)
    assert not AuditEvent.objects.filter(action=services.AUDIT_SEARCH).exists()  # a reference is no PII
    _search(desk, phone="13711112222")
    event = AuditEvent.objects.get(action=services.AUDIT_SEARCH)
    assert event.actor_id == desk.user.pk
    assert event.detail == {"terms": ["phone"], "page": 1, "matches": 1}
    assert "13711112222" not in str(event.detail)


def test_pages_are_post_buttons_and_page_two_continues(client_as, branch, monkeypatch):
    monkeypatch.setattr("complaints.views.QUEUE_PAGE_SIZE", 2)
    start = timezone.now() - timedelta(hours=5)
    references = [make_complaint(branch=branch, contact_name="陈静", contact_phone="13766667777",
                                 received_at=start + timedelta(minutes=i), now=start + timedelta(minutes=i)).reference
                  for i in range(3)]
    desk = client_as("complaint_desk")
    first = _search(desk, phone="13766667777").content.decode()
    assert 'form="complaint-search" name="page" value="2"' in first
    assert references[2] in first and references[1] in first and references[0] not in first
    second = _search(desk, phone="13766667777", page="2").content.decode()
    assert references[0] in second and references[2] not in second
    assert 'name="page" value="1"' in second


def test_an_htmx_search_answers_the_results_region_only(client_as, walk_in):
    response = client_as("complaint_desk").post(reverse(QUEUE), {"phone": "13711112222"},
                                                headers={"HX-Request": "true", "HX-Target": "complaint-results"})
    content = response.content.decode()
    assert walk_in.reference in content and "<html" not in content
    assert 'id="complaint-search"' in content  # the form comes back with its input and errors


def test_the_search_page_reads_in_a_bounded_number_of_queries(client_as, branch):
    for i in range(6):
        make_complaint(branch=branch, contact_name=f"孙{i}", contact_phone="13788889999")
    desk = client_as("complaint_desk")
    _search(desk, phone="13788889999")
    with CaptureQueriesContext(connection) as queries:
        response = _search(desk, phone="13788889999")
    assert response.content.decode().count("/complaints/TS") >= 6
    assert len(queries) <= 14


# --- The blind index on every write path and the backfill -----------------------------------


def test_every_write_path_sets_the_blind_index(client, branch):
    """The service (staff pages and API), the public form and factories all go through complaint_create."""
    from complaints.models import ComplaintCategory

    public = services.complaint_public_submit(
        branch=branch, category=ComplaintCategory.objects.get(code="B0302"), contact_name="吴磊",
        contact_phone="138 0000 4321", description="网银转账失败")
    assert public.contact_phone_bidx == crypto.blind_index(kind="phone", value="13800004321")
    public.refresh_from_db()
    assert public.contact_phone_bidx == crypto.blind_index(kind="phone", value="13800004321")
    linked = make_complaint(customer=CustomerFactory(branch=branch))
    assert linked.contact_phone_bidx is None  # no contact phone: the customer's own index is searched


def test_the_api_write_path_sets_the_blind_index(client, branch):
    from accounts import services as account_services
    from accounts.models import ApiScope

    _key, raw_key = account_services.api_key_create(name="core-banking", scopes=[ApiScope.COMPLAINTS_WRITE],
                                                    branch=None, by=None)
    response = client.post("/api/v1/complaints/", {
        "contact_name": "赵先生", "contact_phone": "+86 136 0000 1111", "branch": branch.code, "channel": "phone",
        "category": "B0302", "severity": "high", "description": "信用卡盗刷"},
        content_type="application/json", HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert response.status_code == 201
    complaint = Complaint.objects.get(reference=response.json()["reference"])
    assert complaint.contact_phone_bidx == crypto.blind_index(kind="phone", value="13600001111")


def test_demo_complaints_are_linked_customers_without_a_contact_phone(branch):
    """The demo seed inserts with SQL: its complaints have no contact phone, so no index is missing."""
    from complaints.demo import demo_seed_complaints

    CustomerFactory.create_batch(5, branch=branch)
    demo_seed_complaints(seed=1, as_of=timezone.now(), count=10)
    assert Complaint.objects.filter(contact_phone__isnull=False, contact_phone_bidx__isnull=True).count() == 0
    assert Complaint.objects.filter(customer__isnull=True).count() == 0


def test_the_backfill_fills_rows_written_without_the_index_in_batches(branch):
    """Given rows from before migration 0007 (index NULL), the backfill sets each from the decrypted phone."""
    complaints = [make_complaint(branch=branch, contact_name=f"郑{i}", contact_phone=f"1361234567{i}")
                  for i in range(5)]
    linked = make_complaint(customer=CustomerFactory(branch=branch))
    Complaint.objects.update(contact_phone_bidx=None)

    updated = complaint_contact_phone_bidx_backfill(complaint_model=Complaint, batch_size=2)

    assert updated == 5
    for i, complaint in enumerate(complaints):
        complaint.refresh_from_db()
        assert complaint.contact_phone_bidx == crypto.blind_index(kind="phone", value=f"1361234567{i}")
    linked.refresh_from_db()
    assert linked.contact_phone_bidx is None
    assert complaint_contact_phone_bidx_backfill(complaint_model=Complaint) == 0  # idempotent


def test_the_migration_calls_the_backfill_with_the_historical_model(monkeypatch):
    import importlib

    migration = importlib.import_module("complaints.migrations.0008_backfill_contact_phone_bidx")
    seen = {}
    monkeypatch.setattr(migration, "complaint_contact_phone_bidx_backfill",
                        lambda *, complaint_model: seen.setdefault("model", complaint_model))

    class Apps:
        @staticmethod
        def get_model(app_label, model_name):
            return (app_label, model_name)

    migration.forwards(Apps, None)
    assert seen["model"] == ("complaints", "Complaint")
    assert migration.Migration.atomic is False
