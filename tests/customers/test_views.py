"""The customer pages: role matrix, scoping (404 for other RMs' customers), exact search by POST,
masking and audited reveal, recording interactions, and the data-quality queue."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from core.audit import AuditAction
from core.models import AuditEvent
from customers.models import (
    DataQualityIssue,
    DataQualityRule,
    Interaction,
    InteractionKind,
    InteractionOutcome,
)
from tests.accounts.factories import BranchFactory, DelegationFactory
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
)

LIST_URL = reverse("customers:customer-list")
QUEUE_URL = reverse("customers:data-quality-queue")
ALL_ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]
HTMX = {"HX-Request": "true", "HX-Target": "customer-results"}


def detail_url(customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


def reveal_url(customer, field: str = "phone") -> str:
    return reverse("customers:customer-reveal", args=[customer.pk, field])


def transactions_url(customer) -> str:
    return reverse("customers:customer-transactions", args=[customer.pk])


def interaction_url(customer) -> str:
    return reverse("customers:interaction-create", args=[customer.pk])


def open_issue(customer, rule=DataQualityRule.MISSING_BASIC, detail="occupation") -> DataQualityIssue:
    return DataQualityIssue.objects.create(
        customer=customer, rule=rule, detail=detail, opened_at=timezone.now()
    )


def urls_in(html: str) -> list[str]:
    """Every URL-like attribute value in the page (links, form actions, htmx requests)."""
    return re.findall(r'(?:href|action|src|hx-get|hx-post|hx-push-url)="([^"]*)"', html)


def interaction_data(**overrides) -> dict:
    data = {
        "kind": InteractionKind.VISIT,
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "summary": "Discussed the maturing time deposit.",
        "outcome": InteractionOutcome.INTERESTED,
        "next_step": "Send the wealth product brochure",
        "next_step_due_on": (timezone.localdate() + timedelta(days=3)).isoformat(),
    }
    data.update(overrides)
    return data


@pytest.fixture
def other_rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_other", first_name="Zhao", last_name="Lei")


@pytest.fixture
def signed_in(client_as, branch, other_rm):
    """A client of the role, and a customer of the branch it may see (the RM's own, for an RM)."""

    def sign_in(role: str):
        client = client_as(role)
        manager = client.user if role == "rm" else other_rm
        client.customer = CustomerFactory(branch=branch, relationship_manager=manager, name="王芳")
        return client

    return sign_in


@pytest.fixture
def rm_client(signed_in):
    return signed_in("rm")


# --- Role matrix --------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_customer_list_open_to_every_role(signed_in, role):
    """Every staff role may open the customer list and sees the customer it may see."""
    client = signed_in(role)
    response = client.get(LIST_URL)
    assert response.status_code == 200
    assert client.customer.name in response.content.decode()


def test_customer_list_refused_without_role(client, make_user):
    """A signed-in user without a role gets 403 on the customer pages."""
    client.force_login(make_user(None, username="nobody"))
    assert client.get(LIST_URL).status_code == 403


@pytest.mark.parametrize("role", ALL_ROLES)
def test_customer_360_open_to_every_role_in_scope(signed_in, role):
    """Every role opens the 360 page of a customer in its scope."""
    client = signed_in(role)
    response = client.get(detail_url(client.customer))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("role", ALL_ROLES)
def test_transactions_fragment_open_to_every_role_in_scope(signed_in, role):
    """Every role may page through the transactions of a customer in its scope."""
    client = signed_in(role)
    assert client.get(transactions_url(client.customer), headers={"HX-Request": "true"}).status_code == 200


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200), ("admin", 200), ("auditor", 403)],
)
def test_reveal_role_matrix(signed_in, role, status):
    """Staff who serve customers may reveal PII; the auditor reads masked data only (403, no audit)."""
    client = signed_in(role)
    response = client.post(reveal_url(client.customer), headers={"HX-Request": "true"})
    assert response.status_code == status
    revealed = AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()
    assert revealed is (status == 200)


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200), ("admin", 200), ("auditor", 403)],
)
def test_interaction_form_role_matrix(signed_in, role, status):
    """Everyone but the auditor may open the record-interaction form."""
    client = signed_in(role)
    assert client.get(interaction_url(client.customer)).status_code == status


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 403), ("branch_manager", 200), ("complaint_desk", 403), ("admin", 200), ("auditor", 200)],
)
def test_data_quality_queue_role_matrix(client_as, role, status):
    """Branch managers, admins and auditors see the data-quality queue; RMs and the desk get 403."""
    assert client_as(role).get(QUEUE_URL).status_code == status


def test_denied_page_is_audited(client_as):
    """A 403 leaves an access.denied audit row naming the path."""
    client_as("rm").get(QUEUE_URL)
    event = AuditEvent.objects.get(action=AuditAction.ACCESS_DENIED)
    assert event.detail["path"] == QUEUE_URL


# --- Scope: another RM's customer is a 404 everywhere ---------------------------------------------


@pytest.fixture
def foreign_customer(branch, other_rm):
    return CustomerFactory(branch=branch, relationship_manager=other_rm, name="李娜")


@pytest.mark.parametrize(
    ("method", "url_for"),
    [
        ("get", detail_url),
        ("post", reveal_url),
        ("get", transactions_url),
        ("get", interaction_url),
        ("post", interaction_url),
    ],
)
def test_other_rms_customer_is_not_found(rm_client, foreign_customer, method, url_for):
    """An RM gets 404 (not 403) on every page of a colleague's customer, and nothing is written."""
    # when
    response = getattr(rm_client, method)(url_for(foreign_customer), data=interaction_data()
                                          if method == "post" else None)
    # then
    assert response.status_code == 404
    assert not Interaction.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_other_rms_customer_is_not_listed(rm_client, foreign_customer):
    """The RM's list holds their own customers only."""
    content = rm_client.get(LIST_URL).content.decode()
    assert rm_client.customer.name in content
    assert foreign_customer.name not in content


def test_delegate_sees_the_delegators_customers(rm_client, foreign_customer, other_rm):
    """While a delegation is active, the backup RM opens the delegator's customers."""
    DelegationFactory(delegator=other_rm, delegate=rm_client.user)
    assert rm_client.get(detail_url(foreign_customer)).status_code == 200


@pytest.mark.parametrize("role", ["branch_manager", "complaint_desk"])
@pytest.mark.parametrize(
    ("method", "url_for"),
    [("get", detail_url), ("post", reveal_url), ("get", transactions_url), ("get", interaction_url),
     ("post", interaction_url)],
)
def test_branch_roles_do_not_see_other_branches(signed_in, role, method, url_for):
    """A branch manager's or desk's scope ends at their branch: every page of another is a 404."""
    client = signed_in(role)
    elsewhere = CustomerFactory(branch=BranchFactory(code="B0999", name="Haidian Branch"))
    response = getattr(client, method)(url_for(elsewhere), data=interaction_data() if method == "post" else None)
    assert response.status_code == 404
    assert not Interaction.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_opening_a_customer_out_of_scope_is_audited(rm_client, foreign_customer):
    """Walking other customers' ids leaves a trail: the 404 writes an audit row (ids only)."""
    assert rm_client.get(detail_url(foreign_customer)).status_code == 404
    event = AuditEvent.objects.get(action="customers.out_of_scope")
    assert (event.actor_id, event.detail) == (rm_client.user.pk, {"customer_id": foreign_customer.pk})


def test_exact_search_is_audited_without_the_number(rm_client):
    customer = rm_client.customer
    response = rm_client.post(LIST_URL, {"phone": customer.phone})
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="customers.identifier_search")
    assert event.detail == {"kind": "phone", "matches": 1}
    assert customer.phone not in str(event.detail)


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "auditor", "admin"])
def test_exact_search_role_matrix(client_as, branch, role):
    """Every customer-serving role may search by number; each finds only customers in its scope."""
    client = client_as(role)
    mine = CustomerFactory(branch=branch, relationship_manager=client.user, phone="13911112222")
    elsewhere = CustomerFactory(branch=BranchFactory(code="B0998", name="Xicheng Branch"), phone="13933334444")
    found_mine = client.post(LIST_URL, {"phone": mine.phone})
    found_elsewhere = client.post(LIST_URL, {"phone": elsewhere.phone})
    assert found_mine.status_code == found_elsewhere.status_code == 200
    assert mine.external_id in found_mine.content.decode()
    sees_all = role in ("auditor", "admin")
    assert (elsewhere.external_id in found_elsewhere.content.decode()) == sees_all


@pytest.mark.parametrize("page", ["99999999999999999999", "-3", "abc"])
def test_absurd_page_numbers_are_not_errors(client_as, rm_client, page):
    assert rm_client.get(LIST_URL, {"page": page}).status_code == 200
    assert rm_client.get(transactions_url(rm_client.customer), {"page": page}).status_code in (200, 400)
    assert client_as("admin").get(QUEUE_URL, {"page": page}).status_code == 200


@pytest.mark.parametrize(
    ("method", "name", "args"),
    [
        ("get", "customers:customer-list", []),
        ("get", "customers:data-quality-queue", []),
        ("get", "customers:customer-detail", [1]),
        ("post", "customers:customer-reveal", [1, "phone"]),
        ("get", "customers:customer-transactions", [1]),
        ("get", "customers:interaction-create", [1]),
    ],
)
def test_anonymous_is_sent_to_login(client, db, method, name, args):
    """Anonymous visitors are redirected to the login page with next, for every customer page."""
    url = reverse(name, args=args)
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={url}"


# --- Start page -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ALL_ROLES)
def test_home_is_the_role_dashboard(client_as, role):
    """Every role starts on its dashboard (evaluation), which links to the customer list."""
    response = client_as(role).get(reverse("home"))
    assert response.status_code == 200
    assert "evaluation/dashboard.html" in [template.name for template in response.templates]
    assert LIST_URL in response.content.decode()


def test_home_without_role_shows_the_welcome_page(client, make_user):
    """A user without a role yet stays on the welcome page (a 403 would be a bad first page)."""
    client.force_login(make_user(None, username="newcomer"))
    response = client.get(reverse("home"))
    assert response.status_code == 200 and "none yet; ask an administrator" in response.content.decode()


def test_nav_links_follow_roles(client_as):
    """Everyone gets the customers link; only overseers get the data-quality queue link."""
    rm_page = client_as("rm").get(LIST_URL).content.decode()
    assert f'href="{LIST_URL}"' in rm_page and f'href="{QUEUE_URL}"' not in rm_page
    assert f'href="{reverse("accounts:delegation-list")}"' in rm_page
    manager_page = client_as("branch_manager", username="bm2").get(LIST_URL).content.decode()
    assert f'href="{QUEUE_URL}"' in manager_page


# --- The list: headings, filters, htmx, pagination --------------------------------------------


@pytest.mark.parametrize(
    ("role", "heading"),
    [("rm", "My customers"), ("branch_manager", "Branch customers"), ("admin", "Customers"),
     ("auditor", "Customers")],
)
def test_list_heading_names_the_scope(client_as, role, heading):
    """The page title says whose customers these are."""
    content = client_as(role).get(LIST_URL).content.decode()
    assert f"<h1 class=\"h3 mb-0\">{heading}</h1>" in content
    assert f"<title>{heading} ·" in content


def test_branch_filter_only_for_head_office_roles(client_as):
    """Admins and auditors may filter by branch; RMs and branch managers see one branch: no filter."""
    assert 'name="branch"' in client_as("admin").get(LIST_URL).content.decode()
    assert 'name="branch"' not in client_as("rm", username="rm2").get(LIST_URL).content.decode()
    assert 'name="branch"' not in client_as("branch_manager", username="bm2").get(LIST_URL).content.decode()


def test_admin_filters_by_branch(client_as, branch):
    """The admin's branch filter narrows the list to one branch."""
    client = client_as("admin")
    CustomerFactory(branch=branch, name="本网点客户")
    other = BranchFactory(code="B0999", name="Haidian Branch")
    CustomerFactory(branch=other, name="海淀客户")
    content = client.get(LIST_URL, {"branch": other.pk}).content.decode()
    assert "海淀客户" in content and "本网点客户" not in content


def test_name_search_and_filters(rm_client):
    """q matches part of a name or the start of a customer number; status and data quality filter."""
    # given
    rm = rm_client.user
    closed = CustomerFactory(branch=rm.branch, relationship_manager=rm, name="刘洋", status="closed",
                             closed_on=timezone.localdate())
    with_issue = CustomerFactory(branch=rm.branch, relationship_manager=rm, name="陈杰")
    open_issue(with_issue)
    # when / then
    by_name = rm_client.get(LIST_URL, {"q": "芳"}).content.decode()
    assert "王芳" in by_name and "刘洋" not in by_name
    by_number = rm_client.get(LIST_URL, {"q": closed.external_id}).content.decode()
    assert "刘洋" in by_number and "王芳" not in by_number
    by_status = rm_client.get(LIST_URL, {"status": "closed"}).content.decode()
    assert "刘洋" in by_status and "王芳" not in by_status
    with_issues = rm_client.get(LIST_URL, {"data_quality": "with_issues"}).content.decode()
    assert "陈杰" in with_issues and "王芳" not in with_issues
    clean = rm_client.get(LIST_URL, {"data_quality": "clean"}).content.decode()
    assert "王芳" in clean and "陈杰" not in clean


def test_unknown_filter_values_are_ignored(rm_client):
    """A tampered sort or filter value falls back to the defaults rather than failing the page."""
    response = rm_client.get(LIST_URL, {"order": "id_number", "data_quality": "x", "status": "y"})
    assert response.status_code == 200 and "王芳" in response.content.decode()


def test_sort_by_assets(rm_client):
    """The list sorts by a whitelisted key."""
    rm = rm_client.user
    CustomerFactory(branch=rm.branch, relationship_manager=rm, name="富豪", total_assets=10**7)
    content = rm_client.get(LIST_URL, {"order": "-total_assets"}).content.decode()
    assert content.index("富豪") < content.index("王芳")


def test_empty_states(client_as):
    """An RM without customers gets a hint; a search without results says so and offers to clear."""
    client = client_as("rm")
    assert "No customers are assigned to you yet" in client.get(LIST_URL).content.decode()
    assert "No customer matches these filters" in client.get(LIST_URL, {"q": "nobody"}).content.decode()


def test_htmx_search_returns_the_results_fragment(rm_client):
    """An htmx search gets only the results region; the page varies on HX-Request."""
    response = rm_client.get(LIST_URL, {"q": "王"}, headers=HTMX)
    content = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in content and "王芳" in content
    assert "HX-Request" in response["Vary"]


def test_htmx_history_restore_gets_the_whole_page(rm_client):
    """A history restore (back button after htmx navigation) needs the full page."""
    content = rm_client.get(LIST_URL, headers={**HTMX, "HX-History-Restore-Request": "true"}).content.decode()
    assert "<html" in content


def test_rm_list_paginates_with_count(rm_client):
    """Fifty a page, with a page count for a bounded scope."""
    rm = rm_client.user
    CustomerFactory.create_batch(50, branch=rm.branch, relationship_manager=rm)
    first = rm_client.get(LIST_URL).content.decode()
    assert "Page 1 of 2" in first and "51 customers" in first
    second = rm_client.get(LIST_URL, {"page": 2}).content.decode()
    assert "Page 2 of 2" in second


def test_admin_list_pages_without_counting(client_as, branch):
    """Head-office scope pages by next/previous without COUNT(*) over the whole table."""
    client = client_as("admin")
    CustomerFactory.create_batch(51, branch=branch)
    first = client.get(LIST_URL)
    content = first.content.decode()
    assert "Page 1" in content and "Page 1 of" not in content
    assert 'href="/customers/?page=2"' in content
    assert len(first.context["page"].object_list) == 50
    assert len(client.get(LIST_URL, {"page": 2}).context["page"].object_list) == 1
    assert "There are no more results" in client.get(LIST_URL, {"page": 9}).content.decode()


# --- Exact search by ID number or phone (POST) ----------------------------------------------------


def assert_identifier_not_leaked(response, identifier: str) -> None:
    content = response.content.decode()
    assert identifier not in response.wsgi_request.get_full_path()
    assert not any(identifier in url for url in urls_in(content))
    title = re.search(r"<title>(.*?)</title>", content, re.S).group(1)
    assert identifier not in title
    # Not even echoed back into the input: the page holds the masked value only.
    assert identifier not in content


def test_search_by_id_number_finds_the_customer(rm_client):
    """POSTing a national ID number finds the customer through the blind index, without echoing it."""
    customer = rm_client.customer
    response = rm_client.post(LIST_URL, {"id_number": customer.id_number.lower(), "phone": ""})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Exact match by national ID number" in content
    assert detail_url(customer) in content and customer.masked_phone in content
    assert "no-store" in response["Cache-Control"]
    assert_identifier_not_leaked(response, customer.id_number)


def test_search_by_phone_accepts_any_spelling(rm_client):
    """A phone with country code and dashes finds the customer; the number never reaches a URL."""
    customer = rm_client.customer
    spelled = f"+86 {customer.phone[:3]}-{customer.phone[3:7]}-{customer.phone[7:]}"
    response = rm_client.post(LIST_URL, {"phone": spelled})
    assert detail_url(customer) in response.content.decode()
    assert_identifier_not_leaked(response, customer.phone)
    assert_identifier_not_leaked(response, spelled)


def test_search_not_found(rm_client):
    """An unknown number gets a clear "not found" and no customer."""
    response = rm_client.post(LIST_URL, {"phone": "13700000000"})
    content = response.content.decode()
    assert "No customer you can see has this number" in content
    assert detail_url(rm_client.customer) not in content
    assert_identifier_not_leaked(response, "13700000000")


def test_search_does_not_reach_other_rms_customers(rm_client, foreign_customer):
    """Exact search stays inside the viewer's scope."""
    response = rm_client.post(LIST_URL, {"id_number": foreign_customer.id_number})
    assert "No customer you can see has this number" in response.content.decode()
    assert detail_url(foreign_customer) not in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"id_number": "", "phone": ""}, "Enter a national ID number or a mobile phone number."),
        ({"id_number": "110105199001011234", "phone": "13900000001"}, "not both"),
    ],
)
def test_search_needs_exactly_one_identifier(rm_client, data, message):
    """Neither or both numbers is an error that says what is wrong; the input is kept to correct it
    (in a page no cache keeps), and the usual customer list still shows below."""
    customer = CustomerFactory(relationship_manager=rm_client.user, branch=rm_client.user.branch)
    response = rm_client.post(LIST_URL, data)
    content = response.content.decode()
    assert response.status_code == 200 and message in content
    for value in data.values():
        if value:
            assert f'value="{value}"' in content
    assert "no-store" in response["Cache-Control"]
    assert detail_url(customer) in content


@pytest.mark.parametrize("phone", ["13800", "1380013800", "23800138000"])
def test_a_phone_that_cannot_be_a_mobile_number_is_a_format_error(rm_client, phone):
    response = rm_client.post(LIST_URL, {"id_number": "", "phone": phone})
    content = response.content.decode()
    assert "A mobile phone number has 11 digits and starts with 13-19" in content
    assert "No customer you can see has this number" not in content
    assert f'value="{phone}"' in content


def test_an_id_number_of_the_wrong_length_is_a_format_error(rm_client):
    content = rm_client.post(LIST_URL, {"id_number": "11010519900101", "phone": ""}).content.decode()
    assert "A resident ID number has 18 characters" in content


def test_a_found_identifier_is_not_written_back(rm_client):
    customer = CustomerFactory(relationship_manager=rm_client.user, branch=rm_client.user.branch,
                               phone="13912345678")
    content = rm_client.post(LIST_URL, {"id_number": "", "phone": "13912345678"}).content.decode()
    assert detail_url(customer) in content and 'value="13912345678"' not in content


def test_a_partial_customer_number_finds_by_prefix(rm_client):
    customer = CustomerFactory(relationship_manager=rm_client.user, branch=rm_client.user.branch,
                               external_id="C009900000123")
    content = rm_client.get(LIST_URL, {"q": "C0099"}).content.decode()
    assert detail_url(customer) in content


def test_identifier_search_refused_without_role(client, make_user):
    client.force_login(make_user(None, username="nobody"))
    assert client.post(LIST_URL, {"phone": "13900000001"}).status_code == 403


# --- Masking and reveal -----------------------------------------------------------------------


def test_360_shows_pii_masked(rm_client):
    """The 360 page shows masked PII only, with a Reveal button per recorded field."""
    customer = rm_client.customer
    content = rm_client.get(detail_url(customer)).content.decode()
    for plaintext, masked in [(customer.phone, customer.masked_phone),
                              (customer.id_number, customer.masked_id_number),
                              (customer.email, customer.masked_email)]:
        assert plaintext not in content
        assert masked in content
    assert customer.address not in content
    assert reveal_url(customer, "phone") in content and reveal_url(customer, "id_number") in content


def test_list_shows_phone_masked(rm_client):
    content = rm_client.get(LIST_URL).content.decode()
    assert rm_client.customer.phone not in content and rm_client.customer.masked_phone in content


def test_auditor_sees_no_reveal_button(signed_in):
    """The auditor's 360 page has no reveal button and says why."""
    client = signed_in("auditor")
    content = client.get(detail_url(client.customer)).content.decode()
    assert reveal_url(client.customer) not in content
    assert "Your role cannot reveal it" in content


def test_reveal_returns_plaintext_uncached_and_audited(rm_client):
    """Reveal answers a small uncacheable fragment with the plaintext and records who saw which field."""
    # given
    customer = rm_client.customer
    # when
    response = rm_client.post(reveal_url(customer, "phone"), headers={"HX-Request": "true"})
    # then
    content = response.content.decode()
    assert response.status_code == 200
    assert customer.phone in content and "<html" not in content
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(action=AuditAction.PII_REVEAL)
    assert event.actor_id == rm_client.user.pk
    assert event.target_id == str(customer.pk) and event.detail == {"field": "phone"}
    assert customer.phone not in str(event.detail)


def test_reveal_without_javascript_renders_a_page(rm_client):
    """Without htmx the reveal form posts normally and gets a small page with a way back."""
    customer = rm_client.customer
    response = rm_client.post(reveal_url(customer, "id_number"))
    content = response.content.decode()
    assert response.status_code == 200 and "<html" in content
    assert customer.id_number in content and detail_url(customer) in content


def test_reveal_needs_post(rm_client):
    """GET on a reveal URL is refused and reveals nothing."""
    assert rm_client.get(reveal_url(rm_client.customer)).status_code == 405
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


def test_reveal_unknown_field_is_not_found(rm_client):
    """Only the four PII fields can be revealed; any other name is a 404."""
    assert rm_client.post(reveal_url(rm_client.customer, "name")).status_code == 404
    assert rm_client.post(reveal_url(rm_client.customer, "id_number_bidx")).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.PII_REVEAL).exists()


# --- The 360 page's panels --------------------------------------------------------------------


def test_360_shows_money_holdings_transactions_interactions_issues(rm_client):
    """Financial summary, holdings, transactions, the interaction timeline and open issues appear."""
    # given
    customer = rm_client.customer
    HoldingFactory(customer=customer, product=ProductFactory(code="DEP01", name="整存整取"), balance=250000)
    loan = ProductFactory(code="LN01", name="个人住房贷款", category="loan")
    HoldingFactory(customer=customer, product=loan, balance=40000)
    TransactionFactory(customer=customer, amount=1234.5)
    InteractionFactory(customer=customer, staff=rm_client.user, summary="到期提醒", next_step="再次联系")
    open_issue(customer, DataQualityRule.STALE, detail="info_updated_at")
    # when
    content = rm_client.get(detail_url(customer)).content.decode()
    # then
    assert "整存整取" in content and "个人住房贷款" in content
    assert "250,000.00" in content and "210,000.00" in content  # assets and net
    assert "1,234.50" in content
    assert "到期提醒" in content and "再次联系" in content
    assert "information out of date" in content
    assert "Marketing" in content and "Consent by purpose and channel, and its history" in content


def test_360_empty_panels_say_so(rm_client):
    content = rm_client.get(detail_url(rm_client.customer)).content.decode()
    assert "The customer holds no products." in content
    assert "No transactions recorded." in content
    assert "No interactions recorded yet." in content
    assert "No open data quality issues." in content


def test_transactions_page_through(rm_client):
    """Transactions page twenty at a time, newest first, through the htmx fragment."""
    customer = rm_client.customer
    now = timezone.now()
    for n in range(25):
        TransactionFactory(customer=customer, occurred_at=now - timedelta(days=n), amount=100 + n)
    first = rm_client.get(detail_url(customer)).content.decode()
    assert "100.00" in first and "124.00" not in first and f"{transactions_url(customer)}?page=2" in first
    second = rm_client.get(transactions_url(customer), {"page": 2}, headers={"HX-Request": "true"})
    content = second.content.decode()
    assert "<html" not in content and "124.00" in content and "100.00" not in content
    assert "Older" not in content and "Newer" in content
    full_page = rm_client.get(transactions_url(customer), {"page": "junk"}).content.decode()
    assert "<html" in full_page and "100.00" in full_page


# --- Recording an interaction ----------------------------------------------------------------


def test_form_defaults_time_to_now(rm_client):
    content = rm_client.get(interaction_url(rm_client.customer)).content.decode()
    assert f'value="{timezone.localtime():%Y-%m-%d}T' in content
    assert 'type="datetime-local"' in content and 'for="id_summary"' in content


def test_record_interaction(rm_client):
    """A valid form writes one interaction by the user and returns to the 360 page with a message."""
    # given
    customer = rm_client.customer
    # when
    response = rm_client.post(interaction_url(customer), interaction_data(), follow=True)
    # then
    assert response.redirect_chain == [(detail_url(customer), 302)]
    interaction = Interaction.objects.get()
    assert interaction.customer == customer and interaction.staff == rm_client.user
    assert interaction.kind == InteractionKind.VISIT and interaction.next_step_due_on is not None
    content = response.content.decode()
    assert "The interaction was recorded." in content and "Discussed the maturing time deposit." in content


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"summary": "  "}, "summary", "This field is required."),
        ({"kind": "telepathy"}, "kind", "Select a valid choice."),
        ({"occurred_at": "yesterday"}, "occurred_at", "Enter a valid date/time."),
        ({"occurred_at": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")},
         "occurred_at", "cannot be recorded before it happens"),
        ({"next_step": ""}, "next_step", "Describe the next step that is due."),
        ({"next_step_due_on": (timezone.localdate() - timedelta(days=3)).isoformat()},
         "next_step_due_on", "cannot be due before the interaction"),
    ],
)
def test_invalid_interaction_shows_field_errors(rm_client, overrides, field, message):
    """Invalid input re-renders the form (200) with the error next to its field, and writes nothing."""
    response = rm_client.post(interaction_url(rm_client.customer), interaction_data(**overrides))
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="id_{field}_error"' in content and message in content
    assert 'aria-describedby="id_' + field + '_error' in content
    assert not Interaction.objects.exists()


def test_auditor_cannot_record_interaction(signed_in):
    """The auditor gets 403 on POST and nothing is written."""
    client = signed_in("auditor")
    response = client.post(interaction_url(client.customer), interaction_data())
    assert response.status_code == 403
    assert not Interaction.objects.exists()


def test_record_button_hidden_from_auditor(signed_in):
    client = signed_in("auditor")
    assert interaction_url(client.customer) not in client.get(detail_url(client.customer)).content.decode()


# --- Data-quality queue ---------------------------------------------------------------------


def test_queue_counts_and_filter(signed_in, branch):
    """Counts by rule cover the branch; the rule filter narrows the list; other branches stay out."""
    # given
    client = signed_in("branch_manager")
    stale_customer = CustomerFactory(branch=branch, name="赵敏")
    open_issue(client.customer, DataQualityRule.MISSING_BASIC)
    open_issue(stale_customer, DataQualityRule.STALE)
    elsewhere = CustomerFactory(branch=BranchFactory(code="B0999"), name="外网点")
    open_issue(elsewhere, DataQualityRule.STALE)
    # when
    response = client.get(QUEUE_URL)
    # then
    content = response.content.decode()
    counts = {rule: count for rule, _label, count in response.context["counts"]}
    assert counts[DataQualityRule.STALE] == 1 and counts[DataQualityRule.MISSING_BASIC] == 1
    assert response.context["total_open"] == 2
    assert "王芳" in content and "赵敏" in content and "外网点" not in content
    assert detail_url(stale_customer) in content
    filtered = client.get(QUEUE_URL, {"rule": DataQualityRule.STALE}).content.decode()
    assert "赵敏" in filtered and "王芳" not in filtered
    assert "read-only" not in content


def test_queue_empty_state_and_read_only_for_auditor(client_as):
    content = client_as("auditor").get(QUEUE_URL).content.decode()
    assert "No open data quality issues" in content and "read-only" in content


def test_queue_ignores_an_unknown_rule(client_as):
    assert client_as("admin").get(QUEUE_URL, {"rule": "nonsense"}).status_code == 200


def test_pages_render_in_chinese(signed_in):
    """Every page renders under zh-hans (number and date filters, plural forms) without errors."""
    client = signed_in("admin")
    customer = client.customer
    HoldingFactory(customer=customer)
    TransactionFactory(customer=customer)
    InteractionFactory(customer=customer, staff=client.user)
    open_issue(customer)
    chinese = {"Accept-Language": "zh-hans"}
    pages = [LIST_URL, detail_url(customer), transactions_url(customer), interaction_url(customer), QUEUE_URL]
    for url in pages:
        response = client.get(url, headers=chinese)
        assert response.status_code == 200, url
        assert '<html lang="zh-hans">' in response.content.decode()
    assert client.post(LIST_URL, {"phone": customer.phone}, headers=chinese).status_code == 200
