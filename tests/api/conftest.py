"""Fixtures for the REST API tests: API keys with chosen scopes, clients, and customers in and
out of a principal's scope."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import services as account_services
from accounts.models import ApiScope, Role
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory, ProductFactory

ALL_SCOPES = tuple(ApiScope.values)


class ApiClientWithKey(Client):
    """A test client that sends ``Authorization: Api-Key ...`` and JSON bodies."""

    def __init__(self, raw_key: str, api_key, **kwargs):
        super().__init__(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", **kwargs)
        self.raw_key = raw_key
        self.api_key = api_key


def json_call(client: Client, method: str, url: str, body=None, **extra):
    """Send ``body`` as JSON with the given method; GET bodies become the query string."""
    if method == "get":
        return client.get(url, body or {}, **extra)
    return getattr(client, method)(url, body if body is not None else {}, content_type="application/json", **extra)


@pytest.fixture(autouse=True)
def _clear_throttle_counts():
    cache.clear()


@pytest.fixture
def make_key(db):
    """Create an API key; return a client that sends it (``client.api_key`` is the row)."""
    counter = iter(range(10_000))

    def make(scopes=ALL_SCOPES, *, name: str | None = None, **kwargs) -> ApiClientWithKey:
        api_key, raw_key = account_services.api_key_create(
            name=name or f"system-{next(counter)}", scopes=list(scopes), by=None, **kwargs
        )
        return ApiClientWithKey(raw_key, api_key)

    return make


@pytest.fixture
def other_branch(db):
    return BranchFactory(code="B0202", name="Haidian Branch")


@pytest.fixture
def rm_user(branch):
    return UserFactory(username="rm_owner", staff_number="S10001", branch=branch,
                       roles=[Role.RELATIONSHIP_MANAGER])


@pytest.fixture
def product(db):
    return ProductFactory(code="DEP-001", name="活期存款")


@pytest.fixture
def own_customer(branch, rm_user):
    """A customer of the home branch, managed by ``rm_user``."""
    return CustomerFactory(branch=branch, relationship_manager=rm_user)


@pytest.fixture
def foreign_customer(other_branch):
    """A customer of another branch with another RM: outside every home-branch role's scope."""
    other_rm = UserFactory(username="rm_other", staff_number="S20001", branch=other_branch,
                           roles=[Role.RELATIONSHIP_MANAGER])
    return CustomerFactory(branch=other_branch, relationship_manager=other_rm)
