"""The data-quality pass (MANUAL 2.2): each rule at its boundary, opening, resolving, scoring."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django_celery_beat.models import PeriodicTask

from accounts.models import Role
from core.errors import ApplicationError
from customers import services
from customers.models import (
    Customer,
    CustomerStatus,
    DataQualityIssue,
    DataQualityIssueStatus,
    DataQualityPolicy,
    DataQualityRule,
    Gender,
    ProductCategory,
)
from customers.tasks import data_quality_run_task
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    ProductFactory,
    full_width,
    id_check_character,
    resident_id,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def as_of():
    return timezone.now().replace(microsecond=0)


def open_rules(customer: Customer) -> set[str]:
    return set(
        DataQualityIssue.objects.filter(customer=customer, status=DataQualityIssueStatus.OPEN)
        .values_list("rule", flat=True)
    )


def test_complete_valid_customer_has_no_issue_and_scores_100(as_of):
    """The factory's customer is complete, valid and fresh: nothing to report."""
    customer = CustomerFactory()
    result = services.data_quality_run(as_of=as_of)
    customer.refresh_from_db()
    assert open_rules(customer) == set()
    assert customer.completeness_score == 100
    assert (result.opened, result.still_open, result.customers_scored, result.policy_version) == (0, 0, 1, 1)


# --- Completeness -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "rule", "missing"),
    [
        ({"gender": Gender.UNKNOWN}, DataQualityRule.MISSING_BASIC, "gender"),
        ({"birth_date": None, "id_number": None}, DataQualityRule.MISSING_BASIC, "birth_date, id_number"),
        ({"occupation": ""}, DataQualityRule.MISSING_BASIC, "occupation"),
        ({"phone": None}, DataQualityRule.MISSING_BASIC, "phone"),
        ({"phone": ""}, DataQualityRule.MISSING_BASIC, "phone"),
        ({"total_assets": None}, DataQualityRule.MISSING_FINANCIAL, "total_assets"),
        ({"liabilities": None, "annual_income": None}, DataQualityRule.MISSING_FINANCIAL,
         "liabilities, annual_income"),
        ({"preferred_channel": ""}, DataQualityRule.MISSING_BEHAVIOUR, "preferred_channel"),
        ({"credit_rating": "", "risk_tolerance": ""}, DataQualityRule.MISSING_RISK,
         "credit_rating, risk_tolerance"),
    ],
)
def test_missing_key_field_opens_issue_of_its_kind(as_of, changes, rule, missing):
    """A missing key field opens one issue for its kind of information, naming the fields."""
    customer = CustomerFactory(**changes)
    services.data_quality_run(as_of=as_of)
    assert open_rules(customer) == {rule}
    issue = DataQualityIssue.objects.get(customer=customer)
    assert json.loads(issue.detail) == {"code": "missing", "fields": missing.split(", ")}
    def labels() -> list[str]:
        return [str(Customer._meta.get_field(name).verbose_name) for name in missing.split(", ")]

    with translation.override("en"):
        assert issue.detail_text == "missing: " + ", ".join(labels())
    with translation.override("zh-hans"):
        assert issue.detail_text == "缺少：" + "、".join(labels())  # noqa: RUF001


@pytest.mark.parametrize(
    ("changes", "score"),
    [
        ({}, 100),
        ({"occupation": ""}, 91),  # 11/12 = 91.7, floored
        ({"birth_date": None, "id_number": None, "total_assets": None}, 75),  # 9/12
        ({"gender": Gender.UNKNOWN, "birth_date": None, "occupation": "", "phone": None, "id_number": None,
          "total_assets": None, "liabilities": None, "annual_income": None, "preferred_channel": "",
          "credit_rating": "", "risk_tolerance": ""}, 8),  # only the name: 1/12
    ],
)
def test_completeness_score_is_floor_of_share_of_key_fields(changes, score):
    """The database computes the score on insert (no pass needed) and returns it with the new row."""
    customer = CustomerFactory(**changes)
    assert customer.completeness_score == score
    customer.refresh_from_db()
    assert customer.completeness_score == score


def test_the_score_follows_every_write_and_the_pass_rewrites_no_customer_row(as_of):
    """The score is a generated column: an update changes it at once, and the data-quality pass (which
    used to store every changed score, one new version of each customer row) writes no customer row."""
    customers = CustomerFactory.create_batch(3)
    Customer.objects.filter(pk=customers[0].pk).update(occupation="")
    assert Customer.objects.get(pk=customers[0].pk).completeness_score == 91

    def row_versions() -> list:
        with connection.cursor() as cursor:
            cursor.execute("SELECT xmin::text FROM customers_customer ORDER BY id")
            return cursor.fetchall()

    before = row_versions()
    result = services.data_quality_run(as_of=as_of)
    assert row_versions() == before
    assert (result.customers_scored, result.opened) == (3, 1)


# --- Timeliness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "stale"),
    [
        (timedelta(days=365), False),  # exactly stale_after_days: not yet stale
        (timedelta(days=365, seconds=1), True),
        (timedelta(days=366), True),  # one day more
        (timedelta(days=364), False),
    ],
    ids=["exactly-365-days", "365-days-and-a-second", "366-days", "364-days"],
)
def test_stale_strictly_after_stale_after_days(as_of, age, stale):
    """Policy v1 says 365 days: information exactly 365 days old is fresh, any older is stale."""
    customer = CustomerFactory(info_updated_at=as_of - age)
    services.data_quality_run(as_of=as_of)
    assert (DataQualityRule.STALE in open_rules(customer)) is stale


def test_never_updated_information_is_stale(as_of):
    customer = CustomerFactory(info_updated_at=None)
    services.data_quality_run(as_of=as_of)
    issue = DataQualityIssue.objects.get(customer=customer)
    assert issue.rule == DataQualityRule.STALE
    with translation.override("en"):
        assert issue.detail_text == "never updated"
    with translation.override("zh-hans"):
        assert issue.detail_text == "从未更新"


def test_newest_policy_version_is_used_and_stamped(as_of, make_user):
    """A new policy version (30 days) applies to the next run and is recorded on the issues it opens."""
    admin = make_user(Role.ADMIN, username="admin_sun")
    customer = CustomerFactory(info_updated_at=as_of - timedelta(days=31))
    policy = services.data_quality_policy_create(
        stale_after_days=30, assets_tolerance_pct=Decimal("5"), by=admin
    )
    result = services.data_quality_run(as_of=as_of)
    issue = DataQualityIssue.objects.get(customer=customer)
    assert (result.policy_version, issue.rule, issue.policy) == (2, DataQualityRule.STALE, policy)


# --- Accuracy: declared assets vs holdings ------------------------------------------------------


@pytest.fixture
def products():
    return {category: ProductFactory(category=category) for category in ProductCategory}


@pytest.mark.parametrize(
    ("declared", "mismatch"),
    [
        ("110000.00", False),  # +10 % of holdings exactly: within tolerance
        ("110000.01", True),  # just above
        ("90000.00", False),  # -10 % exactly
        ("89999.99", True),
        ("100000.00", False),
    ],
)
def test_assets_mismatch_boundary(as_of, products, declared, mismatch):
    """Holdings are the denominator: |declared - held| > 10 % of held is a mismatch, = 10 % is not."""
    customer = CustomerFactory(total_assets=Decimal(declared))
    HoldingFactory(customer=customer, product=products["deposit"], balance=Decimal("60000.00"))
    HoldingFactory(customer=customer, product=products["wealth"], balance=Decimal("30000.00"))
    HoldingFactory(customer=customer, product=products["insurance"], balance=Decimal("10000.00"))
    services.data_quality_run(as_of=as_of)
    assert (DataQualityRule.ASSETS_MISMATCH in open_rules(customer)) is mismatch


def test_loans_cards_and_closed_holdings_are_not_assets(as_of, products):
    """Loan and card balances are liabilities, and a closed holding is no longer held."""
    customer = CustomerFactory(total_assets=Decimal("50000.00"))
    HoldingFactory(customer=customer, product=products["deposit"], balance=Decimal("50000.00"))
    HoldingFactory(customer=customer, product=products["loan"], balance=Decimal("300000.00"))
    HoldingFactory(customer=customer, product=products["card"], balance=Decimal("8000.00"))
    HoldingFactory(customer=customer, product=products["wealth"], balance=Decimal("70000.00"),
                   opened_on=date(2020, 1, 1), closed_on=date(2021, 1, 1))
    services.data_quality_run(as_of=as_of)
    assert open_rules(customer) == set()


@pytest.mark.parametrize(("declared", "mismatch"), [("0.00", False), ("0.01", True), (None, False)])
def test_assets_without_holdings(as_of, declared, mismatch):
    """With nothing held, declaring 0 is consistent, any positive amount is not; no figure is a gap."""
    customer = CustomerFactory(total_assets=None if declared is None else Decimal(declared))
    services.data_quality_run(as_of=as_of)
    assert (DataQualityRule.ASSETS_MISMATCH in open_rules(customer)) is mismatch


def test_assets_detail_gives_both_figures(as_of, products):
    customer = CustomerFactory(total_assets=Decimal("200000.00"))
    HoldingFactory(customer=customer, product=products["deposit"], balance=Decimal("100000.00"))
    services.data_quality_run(as_of=as_of)
    issue = DataQualityIssue.objects.get(customer=customer)
    with translation.override("en"):
        assert issue.detail_text == "declared 200000.00 CNY, open holdings 100000.00 CNY, tolerance 10.00%"
    with translation.override("zh-hans"):
        assert issue.detail_text == "申报 200000.00 元，未结清持仓 100000.00 元，容差 10.00%"  # noqa: RUF001


# --- Accuracy: phone and ID number (encrypted; checked in the streamed pass) --------------------


@pytest.mark.parametrize(
    ("phone", "invalid"),
    [
        ("13812345678", False),  # 11 digits, 1[3-9]
        ("19912345678", False),
        ("1381234567", True),  # 10 digits
        ("138123456789", True),  # 12 digits
        ("12812345678", True),  # starts with 12
        ("+8613812345678", True),  # valid number, not stored canonically
        ("1381234567" + full_width("8"), True),  # a full-width digit
        ("010-12345678", True),  # a landline
    ],
)
def test_phone_format(as_of, phone, invalid):
    customer = CustomerFactory(phone=phone)
    services.data_quality_run(as_of=as_of)
    assert (DataQualityRule.PHONE_FORMAT in open_rules(customer)) is invalid


def test_phone_issue_detail_does_not_repeat_the_number(as_of):
    customer = CustomerFactory(phone="12812345678")
    services.data_quality_run(as_of=as_of)
    issue = DataQualityIssue.objects.get(customer=customer)
    assert "12812345678" not in issue.detail and "2812" not in issue.detail
    with translation.override("zh-hans"):
        assert issue.detail_text == "不是以 13-19 开头的 11 位中国大陆手机号（11 个字符）"  # noqa: RUF001


BIRTH_DATE = date(1990, 3, 7)


def _with_wrong_check_character(id_number: str) -> str:
    wrong = next(c for c in "0123456789X" if c != id_number[17])
    return id_number[:17] + wrong


@pytest.mark.parametrize(
    ("id_number", "rules"),
    [
        (resident_id(birth_date=BIRTH_DATE), set()),
        (_with_wrong_check_character(resident_id(birth_date=BIRTH_DATE)), {DataQualityRule.ID_CHECK_DIGIT}),
        (resident_id(birth_date=date(1990, 3, 8)), {DataQualityRule.ID_BIRTH_DATE}),
        (_with_wrong_check_character(resident_id(birth_date=date(1991, 3, 7))),
         {DataQualityRule.ID_CHECK_DIGIT, DataQualityRule.ID_BIRTH_DATE}),
        ("110105900307001", {DataQualityRule.ID_CHECK_DIGIT}),  # 15-digit first-generation number
        ("11010519900307001", {DataQualityRule.ID_CHECK_DIGIT}),  # 17 characters
        ("1101051990030700A1", {DataQualityRule.ID_CHECK_DIGIT}),
    ],
    ids=["valid", "bad-check-digit", "birth-date-differs", "both", "15-digits", "17-digits", "letter"],
)
def test_id_number_rules(as_of, id_number, rules):
    """GB 11643 check character, and digits 7-14 must equal the recorded birth date."""
    customer = CustomerFactory(birth_date=BIRTH_DATE, id_number=id_number)
    services.data_quality_run(as_of=as_of)
    assert open_rules(customer) == rules


def test_id_check_character_x_in_either_case(as_of):
    """A check character of X is valid stored as X or x (resident ID 11010519491231002X)."""
    first_17 = "11010519491231002"
    assert id_check_character(first_17) == "X"
    upper = CustomerFactory(birth_date=date(1949, 12, 31), id_number=first_17 + "X")
    lower = CustomerFactory(birth_date=date(1949, 12, 31), id_number=first_17 + "x")
    services.data_quality_run(as_of=as_of)
    assert open_rules(upper) == open_rules(lower) == set()


def test_id_birth_date_not_checked_without_birth_date(as_of):
    """With no birth date recorded, only the missing field is reported, not a mismatch."""
    customer = CustomerFactory(birth_date=None, id_number=resident_id(birth_date=BIRTH_DATE))
    services.data_quality_run(as_of=as_of)
    assert open_rules(customer) == {DataQualityRule.MISSING_BASIC}
    with translation.override("en"):
        assert DataQualityIssue.objects.get(customer=customer).detail_text == "missing: birth date"
    with translation.override("zh-hans"):
        assert DataQualityIssue.objects.get(customer=customer).detail_text == "缺少：出生日期"  # noqa: RUF001


def test_impossible_encoded_date_is_a_birth_date_mismatch(as_of):
    first_17 = "11010519901340001"  # month 13
    customer = CustomerFactory(birth_date=BIRTH_DATE, id_number=first_17 + id_check_character(first_17))
    services.data_quality_run(as_of=as_of)
    assert open_rules(customer) == {DataQualityRule.ID_BIRTH_DATE}


# --- Opening, resolving, idempotence ------------------------------------------------------------


def test_fixed_defect_closes_its_issue_on_next_run(as_of):
    # given: an open phone issue
    customer = CustomerFactory(phone="1381234567")
    services.data_quality_run(as_of=as_of)
    issue = DataQualityIssue.objects.get(customer=customer)
    # when: the phone is corrected and the pass runs again
    customer.phone = "13812345678"
    customer.save()
    later = as_of + timedelta(days=1)
    result = services.data_quality_run(as_of=later)
    # then
    issue.refresh_from_db()
    assert (issue.status, issue.resolved_at) == (DataQualityIssueStatus.RESOLVED, later)
    assert (result.resolved, result.resolved_by_rule, result.still_open) == (1, {"phone_format": 1}, 0)


def test_defect_found_again_after_resolution_opens_a_new_issue(as_of):
    customer = CustomerFactory(occupation="")
    services.data_quality_run(as_of=as_of)
    Customer.objects.filter(pk=customer.pk).update(occupation="工程师")
    services.data_quality_run(as_of=as_of + timedelta(hours=1))
    Customer.objects.filter(pk=customer.pk).update(occupation="")
    services.data_quality_run(as_of=as_of + timedelta(hours=2))
    issues = DataQualityIssue.objects.filter(customer=customer).order_by("id")
    statuses = list(issues.values_list("status", flat=True))
    assert statuses == ["resolved", "open"]


def test_rerun_is_idempotent(as_of):
    """A second run finds the same defects: nothing opened or resolved, one open issue per rule."""
    customer = CustomerFactory(phone="12812345678", occupation="", info_updated_at=None)
    first = services.data_quality_run(as_of=as_of)
    second = services.data_quality_run(as_of=as_of + timedelta(minutes=5))
    assert (first.opened, second.opened, second.resolved, second.still_open) == (3, 0, 0, 3)
    assert DataQualityIssue.objects.filter(customer=customer).count() == 3
    assert first.opened_by_rule == {"phone_format": 1, "missing_basic": 1, "stale": 1}
    assert second.open_by_rule == first.opened_by_rule


def test_customer_ids_restricts_the_run(as_of):
    """Only the listed customers are checked, resolved and scored; others are left as they were."""
    # given: two customers with open issues that have since been fixed, and a new defect on each
    listed, other = CustomerFactory(occupation=""), CustomerFactory(occupation="")
    services.data_quality_run(as_of=as_of)
    Customer.objects.filter(pk__in=[listed.pk, other.pk]).update(occupation="会计", preferred_channel="")
    # when
    result = services.data_quality_run(as_of=as_of + timedelta(hours=1), customer_ids=[listed.pk])
    # then
    assert open_rules(listed) == {DataQualityRule.MISSING_BEHAVIOUR}
    assert open_rules(other) == {DataQualityRule.MISSING_BASIC}
    assert (result.opened, result.resolved, result.still_open, result.customers_scored) == (1, 1, 1, 1)
    other.refresh_from_db()
    listed.refresh_from_db()
    assert (listed.completeness_score, other.completeness_score) == (91, 91)  # the database keeps both current


def test_closed_customer_is_not_checked_and_its_issues_are_resolved(as_of):
    customer = CustomerFactory(occupation="")
    services.data_quality_run(as_of=as_of)
    Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.CLOSED, closed_on=date(2025, 1, 1))
    result = services.data_quality_run(as_of=as_of + timedelta(hours=1))
    assert open_rules(customer) == set()
    assert (result.resolved, result.customers_scored) == (1, 0)


def test_run_with_no_policy_raises_application_error(as_of):
    DataQualityPolicy.objects.all().delete()
    with pytest.raises(ApplicationError):
        services.data_quality_run(as_of=as_of)


# --- Query count --------------------------------------------------------------------------------


def _customers_with_every_kind_of_defect(n: int) -> None:
    defects = [{}, {"phone": "1281234567"}, {"occupation": ""}, {"info_updated_at": None},
               {"id_number": "11010519900307001"}, {"total_assets": Decimal("5.00")}]
    for i in range(n):
        CustomerFactory(**defects[i % len(defects)])


def _queries_of_a_run(as_of) -> int:
    with CaptureQueriesContext(connection) as ctx:
        services.data_quality_run(as_of=as_of)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_customers(as_of):
    """20 and 200 customers (one streamed batch each) take the same number of queries."""
    _customers_with_every_kind_of_defect(20)
    small = _queries_of_a_run(as_of)
    _customers_with_every_kind_of_defect(180)
    large = _queries_of_a_run(as_of + timedelta(minutes=1))
    assert small == large
    assert large <= 15


def test_query_count_grows_only_with_batches(as_of, monkeypatch):
    """With a batch size of 50, 200 customers take 3 more batch inserts than one batch would."""
    _customers_with_every_kind_of_defect(200)
    one_batch = _queries_of_a_run(as_of)
    monkeypatch.setattr(services.data_quality, "DATA_QUALITY_BATCH_SIZE", 50)
    four_batches = _queries_of_a_run(as_of + timedelta(minutes=1))
    assert four_batches - one_batch == 3
    # Five of every six customers carry one defect: 33 full cycles of six, then one clean, one defective.
    assert DataQualityIssue.objects.filter(status="open").count() == 33 * 5 + 1


# --- Command and task ---------------------------------------------------------------------------


def test_check_data_quality_command_prints_counts(capsys):
    CustomerFactory(occupation="")
    call_command("check_data_quality")
    out = capsys.readouterr().out
    assert "opened 1, resolved 0, open 1" in out
    assert "missing_basic" in out


def test_task_runs_the_pass_for_the_given_customers(as_of):
    customer = CustomerFactory(occupation="")
    CustomerFactory(occupation="")
    kwargs = {"as_of": as_of.isoformat(), "customer_ids": [customer.pk]}
    result = data_quality_run_task.apply(kwargs=kwargs).get()
    assert (result["opened"], result["customers_scored"]) == (1, 1)


def test_nightly_schedule_is_installed():
    """Migration 0004 schedules the task at 02:30 Asia/Shanghai in django-celery-beat."""
    task = PeriodicTask.objects.select_related("crontab").get(task="customers.data_quality_run_task")
    assert (task.enabled, task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == (
        True, "30", "2", "Asia/Shanghai")


# serialized_rollback: the flush after this test would otherwise also empty the rows data
# migrations created (role groups, policy v1), which later transactional tests rely on.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_nightly_task_runs_in_autocommit_like_a_worker(branch):
    """A worker calls the task outside any transaction: the pass must open its own.

    (The other tests run inside pytest-django's transaction, which would hide a pass that relies
    on one: its temporary table is ON COMMIT DROP and its advisory lock is transaction-scoped.)
    """
    CustomerFactory(branch=branch, occupation="")
    result = data_quality_run_task()
    assert result["opened"] == 1
    assert DataQualityIssue.objects.filter(rule=DataQualityRule.MISSING_BASIC).count() == 1


def test_the_completeness_rule_names_the_models_own_codes():
    """customers.completeness sits below the models and writes their codes as SQL literals: the unknown
    gender and the data-quality rules it keys on must stay the models' values."""
    from customers import completeness

    assert set(completeness.COMPLETENESS_FIELDS) <= set(DataQualityRule.values)
    conditions = dict(completeness.COMPLETENESS_FIELDS["missing_basic"])
    assert conditions["gender"] == f"gender <> '{Gender.UNKNOWN.value}'"
