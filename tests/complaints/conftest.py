import importlib

import pytest
from django.core.cache import cache

from tests.customers.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def customer(branch):
    return CustomerFactory(branch=branch, phone="13912345678")


@pytest.fixture(autouse=True)
def _reference_data(request):
    """Transactional tests flush the tables the data migration seeded; put the seed back."""
    if "transactional_db" not in request.fixturenames and "live_server" not in request.fixturenames:
        marker = request.node.get_closest_marker("django_db")
        if not (marker and marker.kwargs.get("transaction")):
            return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    # Idempotent (get_or_create): fills in whatever an earlier flush removed.
    importlib.import_module("complaints.migrations.0002_default_categories_and_sla").seed(apps, None)
