"""Factories for customers: complete, valid customers by default (so data-quality tests start clean)."""

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from customers.models import (
    Channel,
    CreditRating,
    Customer,
    CustomerStatus,
    Gender,
    Holding,
    Interaction,
    InteractionKind,
    InteractionOutcome,
    Product,
    ProductCategory,
    RiskLevel,
    Transaction,
    TransactionDirection,
    TransactionType,
)
from customers.services import resident_id_check_character
from tests.accounts.factories import BranchFactory

# GB 11643, computed here independently of customers.services so the tests check the service.
FAMILY_NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN_NAMES = (
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军",
    "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞",
)


def id_check_character(first_17_digits: str) -> str:
    return resident_id_check_character(first_17_digits)


def resident_id(*, birth_date: date, sequence: int = 1, region: str = "110105") -> str:
    """A valid 18-digit resident ID number for the birth date (region 110105: Beijing Chaoyang)."""
    first_17 = f"{region}{birth_date:%Y%m%d}{sequence % 1000:03d}"
    return first_17 + id_check_character(first_17)


def full_width(text: str) -> str:
    """The same ASCII characters as typed with a Chinese input method in full-width mode."""
    return "".join(chr(ord(character) + 0xFEE0) for character in text)


def chinese_name(n: int) -> str:
    return FAMILY_NAMES[n % len(FAMILY_NAMES)] + GIVEN_NAMES[(n // len(FAMILY_NAMES)) % len(GIVEN_NAMES)]


class CustomerFactory(factory.django.DjangoModelFactory):
    """A complete, valid, up-to-date customer (every key field present; no holdings, so no assets)."""

    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:09d}")
    name = factory.Sequence(chinese_name)
    gender = Gender.FEMALE
    birth_date = factory.Sequence(lambda n: date(1960, 1, 1) + timedelta(days=97 * n % 15000))
    occupation = "教师"
    id_number = factory.LazyAttributeSequence(
        lambda o, n: resident_id(birth_date=o.birth_date or date(1980, 1, 1), sequence=n)
    )
    phone = factory.Sequence(lambda n: f"139{n % 10**8:08d}")
    email = factory.Sequence(lambda n: f"customer{n}@example.cn")
    address = "北京市朝阳区建国路88号"
    branch = factory.SubFactory(BranchFactory)
    relationship_manager = None
    customer_since = date(2015, 6, 1)
    status = CustomerStatus.ACTIVE
    # Declared assets 0 match "no holdings"; tests that add holdings set total_assets.
    total_assets = Decimal("0.00")
    liabilities = Decimal("0.00")
    annual_income = Decimal("120000.00")
    credit_rating = CreditRating.A
    risk_tolerance = RiskLevel.R2
    preferred_channel = Channel.MOBILE
    info_updated_at = factory.LazyFunction(timezone.now)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"P{n:05d}")
    name = factory.Sequence(lambda n: f"产品{n}")
    category = ProductCategory.DEPOSIT
    risk_level = RiskLevel.R1


class HoldingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Holding

    customer = factory.SubFactory(CustomerFactory)
    product = factory.SubFactory(ProductFactory)
    balance = Decimal("10000.00")
    opened_on = date(2020, 1, 1)
    closed_on = None


class TransactionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Transaction

    external_ref = factory.Sequence(lambda n: f"T{n:012d}")
    customer = factory.SubFactory(CustomerFactory)
    occurred_at = factory.LazyFunction(timezone.now)
    amount = Decimal("500.00")
    direction = TransactionDirection.IN
    channel = Channel.MOBILE
    type = TransactionType.DEPOSIT


class InteractionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    staff = None
    kind = InteractionKind.CALL
    occurred_at = factory.LazyFunction(timezone.now)
    summary = "回访理财产品到期情况"
    outcome = InteractionOutcome.INFORMED
