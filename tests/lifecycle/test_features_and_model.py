"""Point-in-time features, labels, the model's contributions and reasons."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from customers.models import CustomerStatus, Holding
from lifecycle import features, modelling, reasons
from tests.complaints.factories import make_complaint
from tests.customers.factories import (
    CustomerFactory,
    HoldingFactory,
    InteractionFactory,
    ProductFactory,
    TransactionFactory,
)
from tests.lifecycle.factories import at

CUTOFF = date(2026, 6, 30)


@pytest.fixture
def customer(branch):
    customer = CustomerFactory(branch=branch, customer_since=date(2020, 1, 1), birth_date=date(1990, 5, 1))
    deposit = ProductFactory(code="PIT-DEP")
    HoldingFactory(customer=customer, product=deposit, balance=Decimal("50000"), opened_on=date(2021, 1, 1))
    for days in (5, 40, 100, 150, 300):
        TransactionFactory(customer=customer, occurred_at=at(CUTOFF - timedelta(days=days)), amount=Decimal("1000"))
    InteractionFactory(customer=customer, occurred_at=at(CUTOFF - timedelta(days=20)))
    return customer


def _row(customer_id: int) -> np.ndarray:
    matrix = features.feature_matrix(cutoff=CUTOFF, inactive_days=180, customer_ids=[customer_id])
    assert list(matrix.customer_ids) == [customer_id]
    return matrix.X[0]


def test_no_feature_reads_data_after_the_cutoff(customer):
    """Given a customer's features as of a cutoff, when rows dated after it arrive (transactions,
    holdings opened and closed, a complaint, a contact, the closure itself), the features are unchanged."""
    before = _row(customer.pk)
    after_day = CUTOFF + timedelta(days=1)
    for days in (1, 2, 30):
        TransactionFactory(customer=customer, occurred_at=at(CUTOFF + timedelta(days=days)), amount=Decimal("99999"))
    HoldingFactory(customer=customer, product=ProductFactory(code="PIT-CARD", category="card"),
                   opened_on=after_day, balance=Decimal("7"))
    Holding.objects.filter(customer=customer, opened_on__lte=CUTOFF).update(closed_on=after_day)
    InteractionFactory(customer=customer, occurred_at=at(after_day))
    make_complaint(customer=customer, received_at=at(after_day))
    customer.status, customer.closed_on = CustomerStatus.CLOSED, CUTOFF + timedelta(days=10)
    customer.save(update_fields=["status", "closed_on"])

    np.testing.assert_array_equal(_row(customer.pk), before)


def test_features_see_what_happened_up_to_the_cutoff(customer):
    make_complaint(customer=customer, received_at=at(CUTOFF - timedelta(days=3)))
    row = dict(zip(features.FEATURES, _row(customer.pk), strict=True))
    assert row["txn_count_90d"] == 2 and row["txn_count_prior_90d"] == 2 and row["txn_count_365d"] == 5
    assert row["products_held"] == 1 and row["assets_cny"] == 50000
    assert row["interactions_180d"] == 1
    assert row["complaints_365d"] == 1 and row["complaints_open"] == 1
    assert 4 < row["days_since_last_txn"] < 6


def test_population_leaves_out_closed_and_dormant_customers(customer, branch):
    closed = CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=CUTOFF - timedelta(days=1))
    dormant = CustomerFactory(branch=branch, customer_since=date(2015, 1, 1))
    TransactionFactory(customer=dormant, occurred_at=at(CUTOFF - timedelta(days=200)))
    ids = features.population_ids(cutoff=CUTOFF, inactive_days=180)
    assert customer.pk in ids and closed.pk not in ids and dormant.pk not in ids


def test_label_is_closure_or_inactivity_within_the_horizon(customer, branch):
    """Closed within the horizon: 1; silent for the policy's days within it: 1; still active: 0."""
    silent = CustomerFactory(branch=branch, customer_since=date(2020, 1, 1))
    TransactionFactory(customer=silent, occurred_at=at(CUTOFF - timedelta(days=10)))
    active = CustomerFactory(branch=branch, customer_since=date(2020, 1, 1))
    for days in (-10, 30, 90, 150, 200):
        TransactionFactory(customer=active, occurred_at=at(CUTOFF + timedelta(days=days)))
    customer.status, customer.closed_on = CustomerStatus.CLOSED, CUTOFF + timedelta(days=100)
    customer.save(update_fields=["status", "closed_on"])

    matrix = features.feature_matrix(cutoff=CUTOFF, inactive_days=180, horizon_days=180,
                                     customer_ids=[customer.pk, silent.pk, active.pk])
    labels = dict(zip(matrix.customer_ids.tolist(), matrix.y.tolist(), strict=True))
    assert labels == {customer.pk: 1, silent.pk: 1, active.pk: 0}


def test_contributions_add_up_to_the_models_raw_output():
    """For every customer, the bias plus the per-feature contributions equals decision_function."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(1500, len(features.FEATURES)))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = ((np.nan_to_num(X[:, 0]) * np.nan_to_num(X[:, 1]) + rng.normal(size=1500)) > 0.3).astype(int)
    fitted = modelling.fit_calibrated(modelling.HGB, X, y)
    estimator = modelling.base_estimator(fitted)

    bias, contributions = modelling.path_contributions(estimator, X[:300])

    np.testing.assert_allclose(bias + contributions.sum(axis=1), estimator.decision_function(X[:300]), atol=1e-9)
    # The calibrated probability is a monotone function of that raw output.
    p = modelling.probabilities(fitted, X[:300])
    order = np.argsort(estimator.decision_function(X[:300]))
    assert np.all(np.diff(p[order]) >= -1e-12)


def test_reasons_are_worded_with_the_customers_own_figures():
    row = np.full((1, len(features.FEATURES)), np.nan)
    index = {name: i for i, name in enumerate(features.FEATURES)}
    row[0, index["days_since_last_txn"]] = 94
    row[0, index["complaints_365d"]] = 2
    row[0, index["complaints_breached"]] = 1
    contributions = np.zeros_like(row)
    contributions[0, index["days_since_last_txn"]] = 0.9
    contributions[0, index["complaints_breached"]] = 0.4
    contributions[0, index["age_years"]] = -0.5

    [explained] = reasons.reasons_for(row, contributions)

    assert [reasons.reason_text(r) for r in explained] == [
        "no transaction for 94 days", "2 complaints in the last year, 1 past its deadline"]
