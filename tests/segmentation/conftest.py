"""Fixtures for segmentation: a fixed as-of time and helpers that give a customer 12-month figures."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from customers.models import TransactionDirection
from segmentation import services
from segmentation.models import CustomerSegment
from tests.customers.factories import CustomerFactory, InteractionFactory, TransactionFactory

AS_OF = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def as_of():
    return AS_OF


@pytest.fixture
def policy(db):
    return services.segmentation_defaults_ensure()


@pytest.fixture
def make_customer(db, branch):
    def make(**kwargs):
        kwargs.setdefault("branch", branch)
        kwargs.setdefault("customer_since", (AS_OF - timedelta(days=3000)).date())
        return CustomerFactory(**kwargs)

    return make


def give_transactions(customer, *, amounts, days_ago=10, direction=TransactionDirection.IN):
    """Transactions of these amounts (CNY), ``days_ago`` days before AS_OF."""
    for amount in amounts:
        TransactionFactory(customer=customer, amount=Decimal(str(amount)), direction=direction,
                           occurred_at=AS_OF - timedelta(days=days_ago))


def give_services(customer, *, count, days_ago=20):
    for _ in range(count):
        InteractionFactory(customer=customer, occurred_at=AS_OF - timedelta(days=days_ago))


def classify(customer_ids=None, as_of=AS_OF):
    services.segmentation_run(as_of=as_of, customer_ids=customer_ids)


def segment_of(customer) -> CustomerSegment:
    return CustomerSegment.objects.get(customer=customer)
