"""Who sees which customers, searching them, and the reads of one customer's records."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from core.errors import ApplicationError
from customers import selectors
from customers.models import (
    Customer,
    CustomerStatus,
    DataQualityIssue,
    DataQualityIssueStatus,
    DataQualityRule,
    ProductCategory,
)
from tests.accounts.factories import BranchFactory, DelegationFactory
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
    full_width,
)


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="B0202", name="Haidian Branch")


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")


@pytest.fixture
def colleague_rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_li")


@pytest.fixture
def world(branch, other_branch, rm, colleague_rm, make_user):
    """Two customers of the RM, one of a colleague at the same branch, two at another branch."""
    other_rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao", branch=other_branch)
    return {
        "rm_own": [CustomerFactory(branch=branch, relationship_manager=rm) for _ in range(2)],
        "colleague": [CustomerFactory(branch=branch, relationship_manager=colleague_rm)],
        "other_branch": [
            CustomerFactory(branch=other_branch, relationship_manager=other_rm),
            CustomerFactory(branch=other_branch, relationship_manager=None),
        ],
    }


def _ids(customers) -> set[int]:
    return {customer.pk for customer in customers}


def test_rm_sees_only_their_own_customers(world, rm):
    """An RM's list holds their own customers and nobody else's."""
    assert _ids(selectors.customer_list_visible_to(user=rm)) == _ids(world["rm_own"])


def test_rm_sees_delegators_customers_while_delegation_is_active(world, rm, colleague_rm):
    """A backup RM also sees the customers of an RM who delegated to them today."""
    # given
    DelegationFactory(delegator=colleague_rm, delegate=rm, starts_on=timezone.localdate())
    # when
    visible = selectors.customer_list_visible_to(user=rm)
    # then
    assert _ids(visible) == _ids(world["rm_own"] + world["colleague"])


def test_expired_delegation_grants_nothing(world, rm, colleague_rm):
    """Once the delegation has ended the backup no longer sees those customers."""
    today = timezone.localdate()
    DelegationFactory(delegator=colleague_rm, delegate=rm, starts_on=today - timedelta(days=10),
                      ends_on=today - timedelta(days=1))
    assert _ids(selectors.customer_list_visible_to(user=rm)) == _ids(world["rm_own"])


def test_rm_scope_is_a_plain_foreign_key_filter(world, rm):
    """RM scoping compiles to relationship_manager_id IN (...), with no subquery or OR."""
    sql = str(selectors.customer_list_visible_to(user=rm).query)
    where = sql.split(" WHERE ", 1)[1]
    assert '"customers_customer"."relationship_manager_id" IN' in where
    assert "SELECT" not in where and " OR " not in where


def test_another_rms_customer_is_not_found(world, rm):
    """Fetching a customer outside the scope raises DoesNotExist (pages answer 404, never 403)."""
    with pytest.raises(Customer.DoesNotExist):
        selectors.customer_get_visible_to(user=rm, customer_id=world["colleague"][0].pk)


def test_rm_gets_own_customer(world, rm):
    customer = world["rm_own"][0]
    assert selectors.customer_get_visible_to(user=rm, customer_id=customer.pk) == customer


@pytest.mark.parametrize("role", ["branch_manager", "complaint_desk"])
def test_branch_roles_see_their_branch_only(world, user_for_role, role):
    """Branch manager and complaint desk see every customer of their branch and no other."""
    user = user_for_role(role)
    visible = selectors.customer_list_visible_to(user=user)
    assert _ids(visible) == _ids(world["rm_own"] + world["colleague"])
    with pytest.raises(Customer.DoesNotExist):
        selectors.customer_get_visible_to(user=user, customer_id=world["other_branch"][0].pk)


@pytest.mark.parametrize("role", ["auditor", "admin"])
def test_auditor_and_admin_see_all(world, user_for_role, role):
    user = user_for_role(role)
    assert selectors.customer_list_visible_to(user=user).count() == 5


def test_user_without_role_sees_nothing(world, make_user):
    assert selectors.customer_list_visible_to(user=make_user(None, username="nobody")).count() == 0


def test_inactive_rm_sees_nothing(world, rm):
    rm.is_active = False
    rm.save()
    assert selectors.customer_list_visible_to(user=rm).count() == 0


def test_list_joins_branch_and_rm_in_one_query(world, user_for_role, django_assert_num_queries):
    """Listing customers with their branch and RM takes one query after the user's roles are known."""
    admin = user_for_role("admin")
    admin.role_names()
    with django_assert_num_queries(1):
        customers = selectors.customer_list_visible_to(user=admin)
        rows = [(customer.branch.code, customer.relationship_manager) for customer in customers]
    assert len(rows) == 5


# --- Search -------------------------------------------------------------------------------------


@pytest.fixture
def searchable(branch, rm):
    return {
        "zhang": CustomerFactory(
            branch=branch, relationship_manager=rm, name="张三丰", external_id="C100200300",
            phone="13812345678",
        ),
        "li": CustomerFactory(branch=branch, relationship_manager=rm, name="李四", external_id="C100200999"),
    }


@pytest.mark.parametrize(
    "phone_input", ["13812345678", "138 1234 5678", "+86 138-1234-5678", full_width("8613812345678")]
)
def test_search_by_phone_in_any_spelling(searchable, rm, phone_input):
    """An exact phone search goes through the blind index and accepts spaces, dashes, +86, full width."""
    found = selectors.customer_search_visible_to(user=rm, query=None, phone=phone_input)
    assert list(found) == [searchable["zhang"]]


def test_search_by_id_number_with_lowercase_x_and_spaces(branch, rm):
    """An ID number matches whatever the case of X and the spacing typed."""
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    typed = " ".join([customer.id_number[:6], customer.id_number[6:14], customer.id_number[14:].lower()])
    found = selectors.customer_search_visible_to(user=rm, query="", id_number=typed)
    assert list(found) == [customer]


def test_identifier_search_stays_inside_the_scope(searchable, colleague_rm):
    """Knowing a phone number does not reveal another RM's customer."""
    found = selectors.customer_search_visible_to(user=colleague_rm, query=None, phone="13812345678")
    assert not found.exists()


def test_identifier_of_only_punctuation_matches_nobody(searchable, rm):
    assert not selectors.customer_search_visible_to(user=rm, query=None, phone="--").exists()


@pytest.mark.parametrize(
    ("query", "expected"),
    [("三丰", {"zhang"}), ("张", {"zhang"}), ("c1002003", {"zhang"}), ("C100200", {"zhang", "li"}),
     ("200999", set())],
)
def test_name_contains_or_customer_number_starts_with(searchable, rm, query, expected):
    """The text query matches a part of the name or the start of the customer number."""
    found = selectors.customer_search_visible_to(user=rm, query=query)
    assert _ids(found) == {searchable[key].pk for key in expected}


def test_search_filters_by_status_and_branch(branch, other_branch, user_for_role):
    admin = user_for_role("admin")
    closed = CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=date(2024, 1, 1))
    active = CustomerFactory(branch=branch)
    CustomerFactory(branch=other_branch)
    assert list(selectors.customer_search_visible_to(user=admin, query=None, status="closed")) == [closed]
    assert _ids(selectors.customer_search_visible_to(user=admin, query=None, branch_id=branch.pk)) == {
        closed.pk, active.pk}


def test_search_by_data_quality(branch, user_for_role):
    """with_issues / clean / a rule filter on open issues only."""
    admin = user_for_role("admin")
    stale, missing, clean, fixed = (CustomerFactory(branch=branch) for _ in range(4))
    now = timezone.now()
    DataQualityIssue.objects.create(customer=stale, rule=DataQualityRule.STALE, opened_at=now)
    DataQualityIssue.objects.create(customer=missing, rule=DataQualityRule.MISSING_RISK, opened_at=now)
    DataQualityIssue.objects.create(customer=fixed, rule=DataQualityRule.STALE, opened_at=now,
                                    status=DataQualityIssueStatus.RESOLVED, resolved_at=now)

    def search(value):
        return _ids(selectors.customer_search_visible_to(user=admin, query=None, data_quality=value))

    assert search("with_issues") == {stale.pk, missing.pk}
    assert search("clean") == {clean.pk, fixed.pk}
    assert search(DataQualityRule.STALE) == {stale.pk}
    with pytest.raises(ApplicationError):
        search("nonsense")


@pytest.mark.parametrize(
    ("order", "expected"),
    [("name", ["a", "b", "c"]), ("-name", ["c", "b", "a"]), ("-total_assets", ["b", "c", "a"]),
     ("completeness_score", ["c", "a", "b"]), ("external_id", ["c", "a", "b"]),
     ("customer_since", ["b", "a", "c"]), ("drop table", ["a", "b", "c"])],
)
def test_sort_whitelist(branch, user_for_role, order, expected):
    """Only whitelisted sorts apply; an unknown one falls back to name."""
    admin = user_for_role("admin")
    customers = {
        # completeness (a generated column): a 10 of 12 key fields (83), b all (100), c 9 of 12 (75)
        "a": CustomerFactory(branch=branch, name="A客户", external_id="C2", total_assets=None, occupation="",
                             customer_since=date(2012, 1, 1)),
        "b": CustomerFactory(branch=branch, name="B客户", external_id="C3", total_assets=Decimal("900"),
                             customer_since=date(2010, 1, 1)),
        "c": CustomerFactory(branch=branch, name="C客户", external_id="C1", total_assets=Decimal("100"),
                             occupation="", credit_rating="", risk_tolerance="", customer_since=None),
    }
    found = list(selectors.customer_search_visible_to(user=admin, query=None, order=order))
    assert found == [customers[key] for key in expected]


def test_name_search_can_use_the_trigram_index(branch, user_for_role):
    """The icontains SQL matches the UPPER(name) trigram index, so the planner may use it."""
    admin = user_for_role("admin")
    CustomerFactory(branch=branch)
    sql, params = selectors.customer_search_visible_to(user=admin, query="张三丰").query.sql_with_params()
    with connection.cursor() as cursor:
        # Leave the planner only bitmap scans, which need an index condition: the trigram index.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "customer_search_trgm_idx" in plan


# --- One customer's records ---------------------------------------------------------------------


def test_transactions_newest_first(branch):
    customer = CustomerFactory(branch=branch)
    now = timezone.now()
    old = TransactionFactory(customer=customer, occurred_at=now - timedelta(days=3))
    new = TransactionFactory(customer=customer, occurred_at=now - timedelta(hours=1))
    TransactionFactory(occurred_at=now)  # someone else's
    assert list(selectors.transaction_list_for(customer=customer)) == [new, old]
    assert list(selectors.transaction_list_for(customer=customer, since=now - timedelta(days=1))) == [new]


def test_transactions_read_through_the_customer_time_index(branch):
    customer = CustomerFactory(branch=branch)
    sql, params = selectors.transaction_list_for(customer=customer)[:20].query.sql_with_params()
    with connection.cursor() as cursor:
        # On a near-empty table any plan is cheap; forbid a full sort so the order must come
        # from an index, as it does at scale.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "txn_customer_time_idx" in plan


def test_interactions_with_staff_in_one_query(branch, rm, django_assert_num_queries):
    customer = CustomerFactory(branch=branch)
    InteractionFactory.create_batch(3, customer=customer, staff=rm)
    with django_assert_num_queries(1):
        staff_names = [i.staff.username for i in selectors.interaction_list_for(customer=customer)]
    assert staff_names == ["rm_wang"] * 3


def test_holdings_open_first_with_products(branch, django_assert_num_queries):
    customer = CustomerFactory(branch=branch)
    closed = HoldingFactory(customer=customer, opened_on=date(2019, 1, 1), closed_on=date(2020, 1, 1))
    open_holding = HoldingFactory(customer=customer, opened_on=date(2018, 1, 1))
    with django_assert_num_queries(1):
        holdings = [(h, h.product.code) for h in selectors.holding_list_for(customer=customer)]
    assert [h for h, _ in holdings] == [open_holding, closed]


def test_financial_summary_sums_open_holdings_by_category(branch, django_assert_num_queries):
    """Assets are deposit + wealth + insurance, liabilities loan + card; closed holdings do not count."""
    customer = CustomerFactory(branch=branch, total_assets=Decimal("80000.00"))
    products = {category: ProductFactory(category=category) for category in ProductCategory}
    HoldingFactory(customer=customer, product=products["deposit"], balance=Decimal("50000.00"))
    HoldingFactory(customer=customer, product=products["deposit"], balance=Decimal("1000.00"))
    HoldingFactory(customer=customer, product=products["wealth"], balance=Decimal("20000.00"))
    HoldingFactory(customer=customer, product=products["insurance"], balance=Decimal("5000.00"))
    HoldingFactory(customer=customer, product=products["loan"], balance=Decimal("30000.00"))
    HoldingFactory(customer=customer, product=products["card"], balance=Decimal("2000.00"))
    HoldingFactory(customer=customer, product=products["wealth"], balance=Decimal("99999.00"),
                   closed_on=date(2021, 1, 1))
    with django_assert_num_queries(1):
        summary = selectors.customer_financial_summary(customer=customer)
    assert summary["by_category"] == {"deposit": Decimal("51000.00"), "wealth": Decimal("20000.00"),
                                      "loan": Decimal("30000.00"), "card": Decimal("2000.00"),
                                      "insurance": Decimal("5000.00")}
    assert summary["assets_cny"] == Decimal("76000.00")
    assert summary["liabilities_cny"] == Decimal("32000.00")
    assert summary["net_cny"] == Decimal("44000.00")
    assert summary["declared_total_assets_cny"] == Decimal("80000.00")


def test_financial_summary_of_customer_without_holdings_is_zero(branch):
    summary = selectors.customer_financial_summary(customer=CustomerFactory(branch=branch))
    assert summary["assets_cny"] == Decimal("0") and set(summary["by_category"].values()) == {Decimal("0")}


# --- Data-quality issues ------------------------------------------------------------------------


@pytest.fixture
def issues(world):
    now = timezone.now()
    rows = {}
    for key, customers in world.items():
        rows[key] = [DataQualityIssue.objects.create(customer=c, rule=DataQualityRule.STALE, opened_at=now)
                     for c in customers]
    first, second = world["rm_own"]
    DataQualityIssue.objects.create(customer=first, rule=DataQualityRule.MISSING_RISK, opened_at=now)
    DataQualityIssue.objects.create(customer=second, rule=DataQualityRule.PHONE_FORMAT, opened_at=now,
                                    status=DataQualityIssueStatus.RESOLVED, resolved_at=now)
    return rows


@pytest.mark.parametrize(
    ("role", "expected"),
    [("rm", 3), ("branch_manager", 4), ("auditor", 6), ("admin", 6), ("complaint_desk", 0)],
)
def test_data_quality_issues_by_role(issues, rm, user_for_role, role, expected):
    """RM: their customers'; branch manager: their branch; auditor and admin: all; desk: none."""
    user = rm if role == "rm" else user_for_role(role)
    assert selectors.data_quality_issue_list_visible_to(user=user).count() == expected


def test_data_quality_issues_filter_by_rule_and_status(issues, rm):
    missing_risk = selectors.data_quality_issue_list_visible_to(user=rm, rule=DataQualityRule.MISSING_RISK)
    assert missing_risk.count() == 1
    assert selectors.data_quality_issue_list_visible_to(user=rm, status=None).count() == 4
    assert selectors.data_quality_issue_list_visible_to(user=rm, status="resolved").count() == 1


def test_counts_by_rule_in_one_query(issues, user_for_role):
    """Every rule is listed with its open count, from a single GROUP BY query."""
    manager = user_for_role("branch_manager")
    manager.role_names()
    with CaptureQueriesContext(connection) as ctx:
        counts = selectors.data_quality_counts_by_rule(user=manager)
    assert len(ctx.captured_queries) == 1
    assert "GROUP BY" in ctx.captured_queries[0]["sql"]
    by_rule = {rule: count for rule, _label, count in counts}
    assert [rule for rule, _label, _count in counts] == list(DataQualityRule.values)
    assert by_rule["stale"] == 3 and by_rule["missing_risk"] == 1 and by_rule["phone_format"] == 0
