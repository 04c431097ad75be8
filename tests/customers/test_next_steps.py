""""My next steps": interactions' next-step due dates as a page, scoped, filtered, linked from menu and dashboard."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from customers import selectors
from tests.accounts.factories import BranchFactory
from tests.customers.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db

PAGE = "customers:next-step-list"


def _step(customer, *, due_on: date, text: str, staff=None):
    occurred_at = timezone.now() - timedelta(days=60)
    return InteractionFactory(customer=customer, staff=staff, occurred_at=occurred_at, next_step=text,
                              next_step_due_on=due_on)


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def rm_client(client_as):
    return client_as("rm")


@pytest.fixture
def mine(rm_client, branch, today):
    customer = CustomerFactory(branch=branch, relationship_manager=rm_client.user, name="钱进")
    return {
        "overdue": _step(customer, due_on=today - timedelta(days=3), text="补交风险测评问卷", staff=rm_client.user),
        "today": _step(customer, due_on=today, text="电话确认到期续存"),
        "upcoming": _step(customer, due_on=today + timedelta(days=20), text="邀请参加理财沙龙"),
        "lapsed": _step(customer, due_on=today - timedelta(days=selectors.NEXT_STEP_OVERDUE_WINDOW_DAYS + 1),
                        text="早已过期的跟进"),
        "no_date": InteractionFactory(customer=customer, next_step="没有日期的下一步", next_step_due_on=None),
    }


@pytest.fixture
def another_rms(make_user, branch, today):
    other_rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_other")
    customer = CustomerFactory(branch=branch, relationship_manager=other_rm, name="孙悟")
    return _step(customer, due_on=today, text="另一位客户经理的下一步")


@pytest.fixture
def other_branch_step(today):
    customer = CustomerFactory(branch=BranchFactory(code="B0909", name="Far Branch"), name="远方客户")
    return _step(customer, due_on=today, text="别的网点的下一步")


# --- Who may open it ---------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 403), ("admin", 403)])
def test_the_page_is_for_rms_and_branch_managers(client_as, role, status):
    response = client_as(role).get(reverse(PAGE))
    assert response.status_code == status
    if status == 200:
        assert 'id="next-steps-empty"' in response.content.decode()


def test_anonymous_goes_to_login(client):
    response = client.get(reverse(PAGE))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("role", "shown"), [("rm", True), ("branch_manager", True), ("complaint_desk", False),
                                             ("auditor", False), ("admin", False)])
def test_the_menu_entry_shows_for_the_roles_that_may_open_it(client_as, role, shown):
    from core import navigation

    assert "next-steps" in navigation.NAV_ITEMS
    content = client_as(role).get(reverse("home")).content.decode()
    assert (reverse(PAGE) in content) is shown


# --- Content and order ------------------------------------------------------------------------


def test_overdue_first_then_today_then_upcoming_with_links_to_the_360(rm_client, mine):
    content = rm_client.get(reverse(PAGE)).content.decode()
    positions = [content.index(text) for text in ("补交风险测评问卷", "电话确认到期续存", "邀请参加理财沙龙")]
    assert positions == sorted(positions)
    assert content.index("Overdue") < content.index("Due today") < content.index("Upcoming")
    assert reverse("customers:customer-detail", args=[mine["today"].customer_id]) in content
    assert "钱进" in content
    assert "早已过期的跟进" not in content and "没有日期的下一步" not in content


@pytest.mark.parametrize(("when", "expected", "absent"), [
    ("overdue", ["补交风险测评问卷"], ["电话确认到期续存", "邀请参加理财沙龙"]),
    ("all", ["补交风险测评问卷", "电话确认到期续存", "邀请参加理财沙龙"], ["早已过期的跟进"]),
    ("nonsense", ["补交风险测评问卷", "电话确认到期续存", "邀请参加理财沙龙"], []),
])
def test_filters(rm_client, mine, when, expected, absent):
    content = rm_client.get(reverse(PAGE), {"when": when}).content.decode()
    for text in expected:
        assert text in content
    for text in absent:
        assert text not in content


def test_this_week_is_monday_to_sunday(make_user, branch):
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_week")
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    wednesday = date(2026, 12, 2)
    inside = [_step(customer, due_on=date(2026, 11, 30), text="a"), _step(customer, due_on=date(2026, 12, 6), text="b")]
    _step(customer, due_on=date(2026, 11, 29), text="c")
    _step(customer, due_on=date(2026, 12, 7), text="d")
    found = list(selectors.next_step_list_visible_to(user=rm, when="week", today=wednesday))
    assert found == inside


def test_the_dashboard_shortcut_gives_the_same_rows(make_user, branch, today, another_rms):
    """visible_customers (the dashboard's own customer list) scopes exactly as accounts.scope does."""
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_dash")
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    _step(customer, due_on=today, text="x")
    direct = list(selectors.next_step_list_visible_to(user=rm, today=today))
    shortcut = list(selectors.next_step_list_visible_to(
        user=rm, today=today, visible_customers=selectors.customer_list_visible_to(user=rm)))
    assert direct == shortcut and len(direct) == 1


def test_empty_states_per_filter(rm_client):
    assert "Nothing is overdue." in rm_client.get(reverse(PAGE), {"when": "overdue"}).content.decode()
    assert "No next step is due this week." in rm_client.get(reverse(PAGE), {"when": "week"}).content.decode()


def test_pages_of_fifty(rm_client, branch, today, monkeypatch):
    monkeypatch.setattr("customers.views.NEXT_STEP_PAGE_SIZE", 2)
    customer = CustomerFactory(branch=branch, relationship_manager=rm_client.user)
    for days in range(3):
        _step(customer, due_on=today + timedelta(days=days), text=f"第{days}步")
    first = rm_client.get(reverse(PAGE)).content.decode()
    assert "第0步" in first and "第2步" not in first and "page=2" in first
    second = rm_client.get(reverse(PAGE), {"page": 2}).content.decode()
    assert "第2步" in second and "第0步" not in second


# --- Scope ------------------------------------------------------------------------------------


def test_an_rm_never_sees_another_rms_next_steps(rm_client, mine, another_rms, other_branch_step):
    content = rm_client.get(reverse(PAGE)).content.decode()
    assert "电话确认到期续存" in content
    assert "另一位客户经理的下一步" not in content and "别的网点的下一步" not in content


def test_a_branch_manager_sees_the_branchs_next_steps_only(client_as, mine, another_rms, other_branch_step):
    content = client_as("branch_manager").get(reverse(PAGE)).content.decode()
    assert "电话确认到期续存" in content and "另一位客户经理的下一步" in content
    assert "别的网点的下一步" not in content
    assert "Next steps in my branch" in content


def test_the_page_reads_in_a_fixed_number_of_queries(rm_client, branch, today):
    for i in range(8):
        customer = CustomerFactory(branch=branch, relationship_manager=rm_client.user)
        _step(customer, due_on=today + timedelta(days=i), text=f"步骤{i}", staff=rm_client.user)
    rm_client.get(reverse(PAGE))
    with CaptureQueriesContext(connection) as queries:
        response = rm_client.get(reverse(PAGE))
    assert response.content.decode().count("步骤") == 8
    assert len(queries) <= 12


# --- The dashboard tile links here and uses the same rule ----------------------------------


def test_the_rm_dashboard_tile_links_to_the_page(rm_client, mine):
    content = rm_client.get(reverse("home")).content.decode()
    assert f'href="{reverse(PAGE)}"' in content
    assert "电话确认到期续存" in content and "邀请参加理财沙龙" not in content  # the tile looks a week ahead
