"""Lifecycle test data: a small book of customers with a planted, learnable churn signal."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import timezone

from customers.models import (
    Channel,
    Customer,
    CustomerStatus,
    Holding,
    ProductCategory,
    Transaction,
    TransactionDirection,
    TransactionType,
)
from tests.customers.factories import ProductFactory


def at(day: date, hour: int = 10) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def build_book(*, customers: int, branch, today: date, seed: int = 7, relationship_manager=None,
               history_days: int = 540) -> list[Customer]:
    """Customers with holdings and transactions over ``history_days``; about a quarter churn.

    A churner (young with one product, or low income with a card) thins out their transactions in the
    months before leaving and then closes (most) or just stops transacting.
    """
    rng = random.Random(seed)
    deposit = ProductFactory(code="LC-DEP", category=ProductCategory.DEPOSIT)
    card = ProductFactory(code="LC-CARD", category=ProductCategory.CARD)
    rows, plans = [], []
    for n in range(customers):
        age = rng.randint(22, 75)
        young_single = age < 35
        income = Decimal(rng.choice([60000, 90000, 150000, 400000]))
        churn_p = 0.6 if (young_single and income < 100000) else 0.3 if young_single else 0.08
        churns = rng.random() < churn_p
        churn_on = today - timedelta(days=rng.randint(5, history_days - 200)) if churns else None
        closes = churns and rng.random() < 0.7
        rows.append(Customer(
            external_id=f"LC{seed:02d}{n:07d}", name=f"客户{n}", birth_date=today - timedelta(days=365 * age),
            branch=branch, relationship_manager=relationship_manager,
            customer_since=today - timedelta(days=rng.randint(400, 4000)),
            status=CustomerStatus.CLOSED if closes else CustomerStatus.ACTIVE,
            closed_on=churn_on if closes else None, annual_income=income, total_assets=Decimal("0"),
        ))
        plans.append((churn_on, rng.random() < 0.5))
    created = Customer.objects.bulk_create(rows, batch_size=1000)
    holdings, transactions = [], []
    ref = 0
    for customer, (churn_on, has_card) in zip(created, plans, strict=True):
        holdings.append(Holding(customer=customer, product=deposit, balance=Decimal(rng.randint(1000, 300000)),
                                opened_on=customer.customer_since, closed_on=churn_on if customer.closed_on else None))
        if has_card:
            holdings.append(Holding(customer=customer, product=card, balance=Decimal("500"),
                                    opened_on=customer.customer_since))
        last_day = churn_on or today
        day = today - timedelta(days=history_days)
        while day < last_day:
            keep = 1.0 if churn_on is None else min(1.0, 0.15 + (churn_on - day).days / 200)
            if rng.random() < keep:
                ref += 1
                transactions.append(Transaction(
                    external_ref=f"LCT{customer.pk}-{ref}", customer=customer, occurred_at=at(day),
                    amount=Decimal(rng.randint(100, 20000)), channel=Channel.MOBILE,
                    direction=TransactionDirection.IN if rng.random() < 0.5 else TransactionDirection.OUT,
                    type=TransactionType.TRANSFER,
                ))
            day += timedelta(days=rng.randint(8, 30))
    Holding.objects.bulk_create(holdings, batch_size=2000)
    Transaction.objects.bulk_create(transactions, batch_size=5000)
    return created
