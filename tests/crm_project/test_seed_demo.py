"""`manage.py seed_demo`: deterministic, realistic demo data loaded with COPY."""

import re
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import Role, User
from core import crypto
from crm_project import demo
from crm_project.demo import catalogue, generate, staff
from customers.models import (
    Customer,
    CustomerStatus,
    DataQualityRule,
    Holding,
    Interaction,
    Product,
    ProductCategory,
    Transaction,
)

AS_OF = date(2025, 6, 30)
PASSWORD = "demo-password-for-tests"
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$")
ASSET_CATEGORIES = {ProductCategory.DEPOSIT, ProductCategory.WEALTH, ProductCategory.INSURANCE}


@pytest.fixture(autouse=True)
def demo_password(monkeypatch):
    monkeypatch.setenv("CRM_DEMO_PASSWORD", PASSWORD)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", "--as-of", AS_OF.isoformat(), *args, stdout=out)
    with connection.cursor() as cursor:
        # The test transaction never commits: run the deferred foreign-key checks now.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    return out.getvalue()


def id_number_is_valid(id_number: str) -> bool:
    """GB 11643-1999, written out independently of the generator."""
    if not re.fullmatch(r"\d{17}[\dX]", id_number):
        return False
    total = sum(int(digit) * weight for digit, weight in zip(id_number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == id_number[17]


def fingerprint() -> tuple:
    customers = [
        (c.external_id, c.name, c.birth_date, c.id_number, c.phone, c.email, c.address, c.total_assets,
         c.relationship_manager.username, c.status)
        for c in Customer.objects.select_related("relationship_manager").order_by("external_id")
    ]
    holdings = list(Holding.objects.order_by("external_ref").values_list(
        "external_ref", "customer__external_id", "product__code", "balance", "opened_on", "closed_on"))
    transactions = list(Transaction.objects.order_by("external_ref").values_list(
        "external_ref", "customer__external_id", "amount", "occurred_at", "direction", "channel", "type"))
    interactions = list(Interaction.objects.order_by("customer__external_id", "occurred_at", "summary")
                        .values_list("customer__external_id", "staff_id", "kind", "occurred_at", "summary",
                                     "outcome", "next_step_due_on"))
    return customers, holdings, transactions, interactions


def delete_customers() -> None:
    with connection.cursor() as cursor:
        # CASCADE: the later chapters' tables (service records, complaints, segments) point here.
        cursor.execute("TRUNCATE customers_customer, customers_holding, customers_transaction, "
                       "customers_interaction, customers_dataqualityissue CASCADE")


def asset_sums() -> dict[int, Decimal]:
    """Sum of open asset holdings per customer id."""
    sums: dict[int, Decimal] = defaultdict(Decimal)
    rows = Holding.objects.filter(closed_on__isnull=True, product__category__in=ASSET_CATEGORIES).values_list(
        "customer_id", "balance")
    for customer_id, balance in rows:
        sums[customer_id] += balance
    return sums


def profiles_for(customers: int, *, seed_value: int, months: int = 24, per_month: float = 1) -> dict:
    """Regenerate the plaintext profiles of a seeded run, by customer number."""
    plan = generate.SeedPlan(
        seed=seed_value, customers=customers, months=months, transactions_per_month=per_month, as_of=AS_OF,
        loaded_at="", first_customer_id=0, product_ids=(),
        relationship_managers=tuple(staff.demo_relationship_managers(
            count=generate.relationship_managers_needed(customers))),
    )
    return {p.external_id: p for chunk in range(plan.chunks) for p in generate.customer_profiles(plan, chunk)}


# The determinism tests compare customers, holdings, transactions and interactions (fingerprint()):
# --customers-only leaves out the later chapters, which the other tests here and the browser walk seed.
@pytest.mark.django_db
def test_same_seed_gives_the_same_data_and_another_seed_does_not():
    seed("--customers", "300", "--seed", "7", "--transactions-per-month", "1", "--customers-only")
    first = fingerprint()
    delete_customers()

    seed("--customers", "300", "--seed", "7", "--transactions-per-month", "1", "--customers-only")
    assert fingerprint() == first
    delete_customers()

    seed("--customers", "300", "--seed", "8", "--transactions-per-month", "1", "--customers-only")
    other = fingerprint()
    assert [c[1:4] for c in other[0]] != [c[1:4] for c in first[0]]
    assert [t[2:4] for t in other[2]] != [t[2:4] for t in first[2]]


ORPHANS_SQL = """
    SELECT (SELECT count(*) FROM customers_holding h
            LEFT JOIN customers_customer c ON c.id = h.customer_id
            LEFT JOIN customers_product p ON p.id = h.product_id WHERE c.id IS NULL OR p.id IS NULL)
         + (SELECT count(*) FROM customers_transaction t
            LEFT JOIN customers_customer c ON c.id = t.customer_id WHERE c.id IS NULL)
         + (SELECT count(*) FROM customers_interaction i
            LEFT JOIN customers_customer c ON c.id = i.customer_id
            LEFT JOIN accounts_user u ON u.id = i.staff_id WHERE c.id IS NULL OR u.id IS NULL)
         + (SELECT count(*) FROM customers_customer c
            LEFT JOIN accounts_user u ON u.id = c.relationship_manager_id
            LEFT JOIN accounts_branch b ON b.id = c.branch_id WHERE u.id IS NULL OR b.id IS NULL)
"""


@pytest.mark.django_db
@pytest.mark.parametrize("skip_foreign_key_triggers", [True, False])
def test_every_reference_resolves_with_or_without_the_foreign_key_triggers(skip_foreign_key_triggers):
    summary = demo.demo_seed(customers=1100, seed=4, password=PASSWORD, transactions_per_month=0.5,
                             as_of=AS_OF, skip_foreign_key_triggers=skip_foreign_key_triggers)
    assert summary.foreign_key_checks is not skip_foreign_key_triggers
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # runs the checks queued when the triggers ran
        cursor.execute(ORPHANS_SQL)
        assert cursor.fetchone() == (0,)
        cursor.execute("SHOW session_replication_role")
        assert cursor.fetchone() == ("origin",)
    assert summary.rows["customers"] == Customer.objects.count() == 1100


@pytest.mark.django_db
def test_customers_holdings_and_interactions_do_not_depend_on_the_transaction_rate():
    seed("--customers", "300", "--seed", "6", "--transactions-per-month", "1", "--customers-only")
    customers, holdings, _transactions, interactions = fingerprint()
    delete_customers()

    seed("--customers", "300", "--seed", "6", "--transactions-per-month", "3", "--customers-only")
    assert fingerprint()[:2] == (customers, holdings)
    assert fingerprint()[3] == interactions


@pytest.mark.django_db
def test_output_does_not_depend_on_the_number_of_worker_processes():
    seed("--customers", "2500", "--seed", "3", "--transactions-per-month", "0.5", "--workers", "1", "--customers-only")
    in_process = fingerprint()
    delete_customers()

    seed("--customers", "2500", "--seed", "3", "--transactions-per-month", "0.5", "--workers", "2", "--customers-only")
    assert fingerprint() == in_process


@pytest.mark.django_db
def test_pii_is_encrypted_at_rest_and_findable_by_blind_index():
    seed("--customers", "50", "--transactions-per-month", "0")
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM customers_customer")
        stored = cursor.fetchall()
    primary_key_id = crypto.get_keyring().primary_key_id
    assert all(id_number.startswith(f"{primary_key_id}$") and phone.startswith(f"{primary_key_id}$")
               for id_number, phone in stored)

    customer = Customer.objects.order_by("external_id").first()
    assert Customer.objects.get(phone_bidx=crypto.blind_index(kind="phone", value=customer.phone)) == customer
    assert Customer.objects.filter(
        id_number_bidx=crypto.blind_index(kind="id_number", value=customer.id_number)).first() == customer


@pytest.mark.django_db
def test_ids_birth_dates_and_phones_are_valid_except_the_planted_defects():
    seed("--customers", "2000", "--seed", "11", "--transactions-per-month", "0.2")
    profiles = profiles_for(2000, seed_value=11, per_month=0.2)
    customers = list(Customer.objects.all())
    assert len(customers) == len(profiles) == 2000
    defect_counts = Counter()
    for customer in customers:
        profile = profiles[customer.external_id]
        defects = profile.defects
        defect_counts.update(defects)
        assert customer.id_number == profile.id_number
        assert customer.phone == profile.phone
        assert customer.name == profile.name and 2 <= len(customer.name) <= 4
        assert len(customer.id_number) == 18
        assert id_number_is_valid(customer.id_number) == (DataQualityRule.ID_CHECK_DIGIT not in defects)
        id_birth = datetime.strptime(customer.id_number[6:14], "%Y%m%d").date()
        assert (id_birth == customer.birth_date) == (DataQualityRule.ID_BIRTH_DATE not in defects)
        assert int(customer.id_number[16]) % 2 == (1 if customer.gender == "male" else 0)
        assert bool(MOBILE.match(customer.phone)) == (DataQualityRule.PHONE_FORMAT not in defects)
        if DataQualityRule.PHONE_FORMAT in defects:
            assert len(customer.phone) == 10

    for rule in (DataQualityRule.ID_CHECK_DIGIT, DataQualityRule.ID_BIRTH_DATE, DataQualityRule.PHONE_FORMAT,
                 DataQualityRule.STALE, DataQualityRule.ASSETS_MISMATCH):
        assert 20 <= defect_counts[rule] <= 60, (rule, defect_counts[rule])  # ~2 % of 2,000
    missing = sum(defect_counts[rule] for rule in generate.MISSING_RULES)
    assert 20 <= missing <= 60


@pytest.mark.django_db
def test_stale_missing_and_assets_defects_show_in_the_data_exactly_where_planted():
    seed("--customers", "2000", "--seed", "12", "--transactions-per-month", "0.2", "--customers-only")
    profiles = profiles_for(2000, seed_value=12, per_month=0.2)
    sums = asset_sums()
    stale_before = timezone.make_aware(datetime.combine(AS_OF, datetime.min.time())) - timedelta(days=365)
    for customer in Customer.objects.all():
        defects = profiles[customer.external_id].defects
        assert (customer.info_updated_at < stale_before) == (DataQualityRule.STALE in defects)
        held = sums.get(customer.pk, Decimal(0))
        if held:
            off_by = abs(customer.total_assets - held) / held
        else:
            off_by = Decimal(1) if customer.total_assets else Decimal(0)
        assert (off_by > Decimal("0.10")) == (DataQualityRule.ASSETS_MISMATCH in defects)
        assert (customer.occupation == "" and customer.address is None) == (
            DataQualityRule.MISSING_BASIC in defects)
        assert (customer.annual_income is None) == (DataQualityRule.MISSING_FINANCIAL in defects)
        assert (customer.preferred_channel == "") == (DataQualityRule.MISSING_BEHAVIOUR in defects)
        assert (customer.risk_tolerance == "" and customer.credit_rating == "") == (
            DataQualityRule.MISSING_RISK in defects)
        if customer.status == CustomerStatus.ACTIVE:  # the data-quality pass scores active customers
            assert (customer.completeness_score == 100) == (not defects & set(generate.MISSING_RULES))
        assert (customer.status == CustomerStatus.CLOSED) == (customer.closed_on is not None)


@pytest.mark.django_db
def test_value_mix_is_within_three_points_of_the_manual():
    """Holdings put 12 % of customers at >= 6 M CNY, 45 % at 200 k-6 M and 43 % below."""
    seed("--customers", "2000", "--seed", "42", "--transactions-per-month", "0.2")
    sums = asset_sums()
    tiers = Counter()
    for customer_id in Customer.objects.values_list("id", flat=True):
        held = sums.get(customer_id, Decimal(0))
        tiers["hnw" if held >= 6_000_000 else "middle" if held >= 200_000 else "ordinary"] += 1
    assert abs(tiers["hnw"] / 20 - 12) <= 3
    assert abs(tiers["middle"] / 20 - 45) <= 3
    assert abs(tiers["ordinary"] / 20 - 43) <= 3


@pytest.mark.django_db
def test_manual_rules_classify_a_plausible_share_as_vip_and_active():
    """VIP: > 1 M CNY a year and >= 5 interactions; active: >= 3 transactions and >= 50 k CNY a year."""
    seed("--customers", "1000", "--seed", "5", "--transactions-per-month", "2")
    year_start = timezone.make_aware(datetime.combine(AS_OF - timedelta(days=365), datetime.min.time()))
    amounts, counts, contacts = defaultdict(Decimal), Counter(), Counter()
    for customer_id, amount in Transaction.objects.filter(occurred_at__gte=year_start).values_list(
            "customer_id", "amount"):
        amounts[customer_id] += amount
        counts[customer_id] += 1
    contacts.update(
        Interaction.objects.filter(occurred_at__gte=year_start).values_list("customer_id", flat=True))
    ids = list(Customer.objects.values_list("id", flat=True))
    vip = sum(1 for i in ids if amounts[i] > 1_000_000 and contacts[i] >= 5)
    active = sum(1 for i in ids if counts[i] >= 3 and amounts[i] >= 50_000)
    churned = sum(1 for i in ids if counts[i] == 0)
    assert 80 <= vip <= 140  # most of the ~12 % high-net-worth customers
    assert 550 <= active <= 850
    assert 10 <= churned <= 80


@pytest.mark.django_db
def test_transactions_per_customer_per_month_match_the_flag():
    seed("--customers", "1200", "--seed", "9", "--transactions-per-month", "1.5", "--months", "12", "--customers-only")
    assert Transaction.objects.count() == 1200 * 1.5 * 12

    window_start = generate.add_months(AS_OF, -12) + timedelta(days=1)
    per_month = Counter()
    for occurred_at in Transaction.objects.values_list("occurred_at", flat=True):
        local_day = timezone.localtime(occurred_at).date()
        assert window_start <= local_day <= AS_OF
        per_month[(local_day.year, local_day.month)] += 1
    partial_months = {(window_start.year, window_start.month), (AS_OF.year, AS_OF.month)}
    full_months = [count for month, count in per_month.items() if month not in partial_months]
    assert all(abs(count / (1200 * 1.5) - 1) < 0.35 for count in full_months), per_month

    refs = Transaction.objects.values_list("external_ref", "customer__external_id")
    assert all(ref.startswith(f"{external_id}T") for ref, external_id in refs)


@pytest.mark.django_db
def test_a_fractional_rate_adds_up_exactly_over_the_chunks():
    """The benchmark's 10 M transactions for 1 M customers is 0.4167 a customer a month."""
    seed("--customers", "1100", "--seed", "9", "--transactions-per-month", "0.4167", "--customers-only")
    assert Transaction.objects.count() == round(1100 * 0.4167 * 24) == 11001


@pytest.mark.django_db
def test_default_rate_is_ten_transactions_per_customer_per_month():
    seed("--customers", "100", "--months", "2", "--customers-only")
    assert Transaction.objects.count() == 100 * 10 * 2


@pytest.mark.django_db
def test_six_logins_exist_with_their_roles_and_rms_spread_over_branches():
    seed("--customers", "2000", "--transactions-per-month", "0")
    expected = {
        "admin": Role.ADMIN, "manager1": Role.BRANCH_MANAGER, "rm1": Role.RELATIONSHIP_MANAGER,
        "rm2": Role.RELATIONSHIP_MANAGER, "desk1": Role.COMPLAINT_DESK, "auditor1": Role.COMPLIANCE_AUDITOR,
    }
    for username, role in expected.items():
        user = User.objects.get(username=username)
        assert user.has_role(role)
        assert user.check_password(PASSWORD)
    assert User.objects.get(username="admin").is_superuser
    assert {User.objects.get(username=name).branch.code for name in ("manager1", "rm1", "rm2", "desk1")} == {
        "BJ0101"}

    rms = [User.objects.get(username=f"rm{n}") for n in range(1, generate.MIN_RELATIONSHIP_MANAGERS + 1)]
    assert all(rm.has_role(Role.RELATIONSHIP_MANAGER) and rm.check_password(PASSWORD) for rm in rms)
    assert len({rm.branch.code for rm in rms}) == 4
    per_rm = Counter(Customer.objects.values_list("relationship_manager__username", flat=True))
    assert per_rm["rm1"] == 2000 // generate.MIN_RELATIONSHIP_MANAGERS
    assert all(customer.branch_id == customer.relationship_manager.branch_id
               for customer in Customer.objects.select_related("relationship_manager")[:200])
    assert Product.objects.count() == len(catalogue.PRODUCTS) >= 20


def test_a_million_customers_get_rms_of_about_five_thousand_each():
    assert generate.relationship_managers_needed(1_000_000) == 200
    assert generate.relationship_managers_needed(2_000) == generate.MIN_RELATIONSHIP_MANAGERS


@pytest.mark.django_db
def test_if_empty_does_not_seed_twice():
    first = seed("--if-empty", "--customers", "200", "--transactions-per-month", "0.5")
    counts = (Customer.objects.count(), Transaction.objects.count(), User.objects.count())
    assert "Demo data seeded" in first

    second = seed("--if-empty", "--customers", "200", "--transactions-per-month", "0.5")
    assert "already present" in second
    assert (Customer.objects.count(), Transaction.objects.count(), User.objects.count()) == counts


@pytest.mark.django_db
def test_seeding_the_same_seed_again_is_refused_without_writing():
    seed("--customers", "50", "--transactions-per-month", "0")
    with pytest.raises(CommandError, match="already exist"):
        seed("--customers", "50", "--transactions-per-month", "0")
    assert Customer.objects.count() == 50


def test_vocabulary_is_safe_in_unquoted_csv():
    texts = [name for _code, name, *_ in catalogue.PRODUCTS]
    texts += [name for name, _pinyin, _weight in catalogue.FAMILY_NAMES]
    texts += catalogue.GIVEN_MALE + catalogue.GIVEN_FEMALE + catalogue.GIVEN_EITHER + catalogue.COMPOUNDS
    texts += catalogue.CLOSED_REASONS + catalogue.SALON_TOPICS + catalogue.NEXT_STEPS
    texts += [text for texts_ in catalogue.INTERACTION_SUMMARIES.values() for text in texts_]
    texts += [text for texts_ in catalogue.OCCUPATIONS.values() for text in texts_]
    for city in catalogue.CITIES.values():
        texts += city["roads"] + [name for _code, name in city["districts"]]
    assert not [text for text in texts if re.search(r'[,"\\\r\n]', text) or not text]


# --- An interrupted seed is detected and repaired (issue 19) -------------------------------------


@pytest.mark.django_db
def test_an_interrupted_seed_is_refused_by_if_empty_and_repaired(monkeypatch):
    """Given a seed that died after loading customers, --if-empty no longer skips; --repair redoes it."""
    from crm_project.demo import state
    from crm_project.management.commands import seed_demo as seed_command
    from crm_project.models import DemoSeedRun

    def die_after_loading(self, options, password):
        demo.demo_seed(customers=30, seed=3, password=password, as_of=AS_OF, months=2, workers=1)
        raise KeyboardInterrupt

    monkeypatch.setattr(seed_command.Command, "_seed_steps", die_after_loading)
    with pytest.raises(KeyboardInterrupt):
        seed("--customers", "30", "--seed", "3", "--months", "2", "--skip-data-quality", "--customers-only")
    monkeypatch.undo()
    assert Customer.objects.count() == 30 and state.demo_seed_state() == state.PARTIAL

    with pytest.raises(CommandError, match="did not finish"):
        seed("--if-empty")

    output = seed("--if-empty", "--repair")

    assert "wiping its partial data" in output
    assert state.demo_seed_state() == state.COMPLETE
    assert Customer.objects.count() == 30  # the interrupted run's options, not the defaults
    assert DemoSeedRun.objects.filter(finished_at__isnull=True).count() == 0
    assert "already present" in seed("--if-empty", "--repair")


@pytest.mark.django_db
def test_a_finished_seed_is_marked_complete():
    from crm_project.demo import state

    seed("--customers", "5", "--months", "1", "--skip-data-quality", "--customers-only")
    assert state.demo_seed_state() == state.COMPLETE


def test_make_run_repairs_a_partial_seed():
    """launch.py run passes --repair, so a Ctrl-C during the first start does not leave half a database."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[2].joinpath("crm_project", "launch.py").read_text()
    assert '_manage("seed_demo", "--if-empty", "--repair", env=env)' in source
