"""Sharing a customer on the pages: the share page per role, the colleague's read-only 360 and list,
revoke, and the "Shared with me" page."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import RecordShare, Role
from customers import services
from customers.models import CustomerUserObjectPermission
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory

LIST_URL = reverse("customers:customer-list")
SHARED_WITH_ME_URL = reverse("accounts:shared-with-me")


def share_url(customer) -> str:
    return reverse("customers:customer-share", args=[customer.pk])


def detail_url(customer) -> str:
    return reverse("customers:customer-detail", args=[customer.pk])


@pytest.fixture
def owner(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_owner")


@pytest.fixture
def customer(branch, owner):
    return CustomerFactory(branch=branch, relationship_manager=owner, name="王小明")


@pytest.fixture
def other_customer(branch, owner):
    return CustomerFactory(branch=branch, relationship_manager=owner)


@pytest.fixture
def specialist(db):
    """A product specialist at head office (an RM there): serves none of the branch's customers."""
    return UserFactory(username="specialist", first_name="Li", last_name="Na",
                       branch=BranchFactory(code="HO001", name="Head Office"), roles=[Role.RELATIONSHIP_MANAGER])


def share(customer, colleague, by, **overrides):
    arguments = {"reason": "Wealth product review", "ends_on": timezone.localdate() + timedelta(days=5)}
    arguments.update(overrides)
    return services.customer_share(customer=customer, shared_with=colleague, by=by, **arguments)


# --- The share page, per role -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 200), ("branch_manager", 200), ("admin", 200), ("complaint_desk", 403), ("auditor", 403)],
)
def test_share_page_role_matrix(client_as, branch, role, status):
    """The customer's RM, the branch manager and an admin get the form; the desk and the auditor do not."""
    client = client_as(role)
    manager = client.user if role == "rm" else UserFactory(branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    customer = CustomerFactory(branch=branch, relationship_manager=manager)
    response = client.get(share_url(customer))
    assert response.status_code == status
    if status == 200:
        content = response.content.decode()
        assert 'name="shared_with"' in content and 'name="reason"' in content
        assert 'type="date"' in content
        assert "This record is not shared with anyone." in content


def test_another_rms_customer_is_not_found_on_the_share_page(client_as, branch, customer):
    client = client_as("rm")
    assert client.get(share_url(customer)).status_code == 404


def test_sharing_on_the_page_creates_the_share(client, owner, customer, specialist):
    client.force_login(owner)
    ends_on = timezone.localdate() + timedelta(days=3)
    response = client.post(share_url(customer), {"shared_with": specialist.pk, "reason": "Needs the review",
                                                 "ends_on": ends_on.isoformat()})
    assert response.status_code == 302
    created = RecordShare.objects.get()
    assert (created.shared_with, created.shared_by, created.ends_on) == (specialist, owner, ends_on)
    page = client.get(share_url(customer)).content.decode()
    assert "Needs the review" in page
    assert reverse("customers:customer-share-revoke", args=[customer.pk, created.pk]) in page


def test_an_invalid_share_shows_the_error_and_writes_nothing(client, owner, customer, specialist):
    client.force_login(owner)
    too_late = timezone.localdate() + timedelta(days=RecordShare.MAX_DAYS + 5)
    response = client.post(share_url(customer), {"shared_with": specialist.pk, "reason": "x",
                                                 "ends_on": too_late.isoformat()})
    assert response.status_code == 400
    assert f"A share can last at most {RecordShare.MAX_DAYS} days." in response.content.decode()
    assert not RecordShare.objects.exists()


def test_the_owner_cannot_pick_themselves(client, owner, customer):
    """The picker leaves the sharer out, so posting oneself is an invalid choice."""
    client.force_login(owner)
    response = client.post(share_url(customer), {"shared_with": owner.pk, "reason": "x",
                                                 "ends_on": timezone.localdate().isoformat()})
    assert response.status_code == 400
    assert not RecordShare.objects.exists()


# --- What the colleague sees --------------------------------------------------------------------


def test_the_colleague_opens_the_shared_360_read_only(client, owner, customer, other_customer, specialist):
    share(customer, specialist, owner)
    client.force_login(specialist)

    response = client.get(detail_url(customer))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Shared with you, read only" in content
    assert customer.name in content
    assert reverse("customers:customer-reveal", args=[customer.pk, "phone"]) not in content
    assert reverse("customers:customer-edit", args=[customer.pk]) not in content
    assert reverse("customers:interaction-create", args=[customer.pk]) not in content
    assert share_url(customer) not in content  # a share is never passed on

    # exactly that record: the owner's other customer stays out of reach
    assert client.get(detail_url(other_customer)).status_code == 404
    # and only to read: reveals, edits and re-sharing answer "not found"
    assert client.post(reverse("customers:customer-reveal", args=[customer.pk, "phone"])).status_code == 404
    assert client.get(reverse("customers:customer-edit", args=[customer.pk])).status_code == 404
    assert client.get(share_url(customer)).status_code == 404
    # the 360 page's own transaction pages work
    assert client.get(reverse("customers:customer-transactions", args=[customer.pk])).status_code == 200


def test_the_colleague_finds_the_shared_customer_in_the_list(client, owner, customer, other_customer, specialist):
    client.force_login(specialist)
    assert customer.external_id not in client.get(LIST_URL).content.decode()
    share(customer, specialist, owner)
    content = client.get(LIST_URL).content.decode()
    assert customer.external_id in content
    assert other_customer.external_id not in content


def test_the_owner_keeps_every_action(client, owner, customer, specialist):
    share(customer, specialist, owner)
    client.force_login(owner)
    content = client.get(detail_url(customer)).content.decode()
    assert "Shared with you, read only" not in content
    assert share_url(customer) in content
    assert reverse("customers:customer-edit", args=[customer.pk]) in content
    assert reverse("customers:customer-reveal", args=[customer.pk, "phone"]) in content


def test_revoke_on_the_page_ends_the_colleagues_access(client, owner, customer, specialist):
    created = share(customer, specialist, owner)
    client.force_login(owner)
    response = client.post(reverse("customers:customer-share-revoke", args=[customer.pk, created.pk]))
    assert response.status_code == 302
    assert not CustomerUserObjectPermission.objects.exists()
    client.force_login(specialist)
    assert client.get(detail_url(customer)).status_code == 404


def test_the_colleague_cannot_revoke(client, owner, customer, specialist):
    created = share(customer, specialist, owner)
    client.force_login(specialist)
    response = client.post(reverse("customers:customer-share-revoke", args=[customer.pk, created.pk]))
    assert response.status_code == 404
    created.refresh_from_db()
    assert created.revoked_at is None


def test_revoke_is_post_only(client, owner, customer, specialist):
    created = share(customer, specialist, owner)
    client.force_login(owner)
    assert client.get(reverse("customers:customer-share-revoke", args=[customer.pk, created.pk])).status_code == 405


def test_an_expired_share_ends_access(client, owner, customer, specialist, time_machine):
    share(customer, specialist, owner, ends_on=timezone.localdate())
    time_machine.move_to(timezone.now() + timedelta(days=1), tick=False)
    client.force_login(specialist)
    assert client.get(detail_url(customer)).status_code == 404
    assert customer.external_id not in client.get(LIST_URL).content.decode()


# --- Shared with me -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200), ("auditor", 200), ("admin", 200)],
)
def test_shared_with_me_role_matrix(client_as, role, status):
    client = client_as(role)
    response = client.get(SHARED_WITH_ME_URL)
    assert response.status_code == status
    assert "Nothing is shared with you at the moment." in response.content.decode()


def test_shared_with_me_is_refused_without_a_role(client, make_user):
    client.force_login(make_user(username="no_role"))
    assert client.get(SHARED_WITH_ME_URL).status_code == 403


def test_shared_with_me_lists_the_shared_customer_with_a_link(client, owner, customer, other_customer, specialist):
    share(customer, specialist, owner, reason="Wealth product review")
    client.force_login(specialist)
    content = client.get(SHARED_WITH_ME_URL).content.decode()
    assert detail_url(customer) in content
    assert customer.external_id in content
    assert customer.name not in content  # the list shows the masked name, like every list
    assert "Wealth product review" in content
    assert detail_url(other_customer) not in content
    assert SHARED_WITH_ME_URL in content  # the menu entry (core.navigation)


def test_shared_with_me_needs_login(client):
    response = client.get(SHARED_WITH_ME_URL)
    assert response.status_code == 302


# --- Paging a list that includes shared customers ------------------------------------------------


def test_pages_with_shared_customers_match_the_plain_ordering(client, branch, owner, make_user, specialist):
    """Shared customers fall into their place by name on every page, none twice, none lost.

    The list reads each page in two steps (the book's first ids in order, plus the shared ids);
    the pages must equal slicing the whole list sorted by name.
    """
    own = [CustomerFactory(branch=specialist.branch, relationship_manager=specialist, name=f"客户{n:03d}")
           for n in range(0, 120, 2)]  # 60 own: even numbers
    shared = [CustomerFactory(branch=branch, relationship_manager=owner, name=f"客户{n:03d}") for n in (1, 51, 119)]
    for customer in shared:
        share(customer, specialist, owner)
    expected = [customer.external_id for customer in sorted(own + shared, key=lambda customer: customer.name)]

    client.force_login(specialist)
    seen = []
    for page in (1, 2):
        content = client.get(LIST_URL, {"page": page}).content.decode()
        seen += [external_id for external_id in expected if external_id in content]
    assert seen == expected  # 63 customers over two pages of 50, in name order
    first_page = client.get(LIST_URL, {"page": 1}).content.decode()
    assert shared[0].external_id in first_page and shared[2].external_id not in first_page


def test_a_search_applies_to_shared_customers_too(client, branch, owner, specialist):
    mine = CustomerFactory(branch=specialist.branch, relationship_manager=specialist, name="张三")
    shared_match = CustomerFactory(branch=branch, relationship_manager=owner, name="张四")
    shared_other = CustomerFactory(branch=branch, relationship_manager=owner, name="李五")
    share(shared_match, specialist, owner)
    share(shared_other, specialist, owner)
    client.force_login(specialist)
    content = client.get(LIST_URL, {"q": "张"}).content.decode()
    assert mine.external_id in content and shared_match.external_id in content
    assert shared_other.external_id not in content
