"""Improvement API: scopes and row scope."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import ApiScope, Role
from accounts.services import api_key_create
from improvement import services
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(branch, kpi_registry):
    other = BranchFactory(code="ZZ9999")
    rm_here = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_here")
    rm_there = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=other, username="rm_there")
    for rm in (rm_here, rm_there):
        CustomerFactory(branch=rm.branch, relationship_manager=rm)
    services.scorecards_compute(period_kind="month", period_start=date(2026, 10, 1))
    manager = UserFactory(roles=[Role.BRANCH_MANAGER], branch=other, username="bm_there")
    kpi_registry.set("satisfaction", "month", date(2026, 9, 1), "70", branch_id=other.pk)
    services.initiative_create(by=manager, title="There", problem="p", owner=manager, team=[], branch=other,
                               kpi_code="satisfaction", kpi_period_kind="month",
                               baseline_period_start=date(2026, 9, 1), target_value=Decimal("80"),
                               check_period_start=date(2026, 11, 1))
    return other


def _names(response, field):
    return {row[field] for row in response.json()["results"]}


@pytest.mark.parametrize(("role", "sees"), [("rm", set()), ("branch_manager", {"rm_here"}),
                                            ("auditor", {"rm_here", "rm_there"}), ("complaint_desk", None)])
def test_scorecards_by_role(client_as, data, role, sees):
    client = client_as(role)
    response = client.get("/api/v1/improvement/scorecards/", {"period_start": "2026-10-01"})
    if sees is None:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    assert _names(response, "relationship_manager_username") == sees  # a fresh RM has no card of their own


def test_initiatives_for_keys_need_the_scope_and_respect_the_branch(client, data, branch):
    _key, secret = api_key_create(name="board", scopes=[ApiScope.TRAINING_READ], by=None)
    assert client.get("/api/v1/improvement/initiatives/", HTTP_AUTHORIZATION=f"Api-Key {secret}").status_code == 403
    _key, secret = api_key_create(name="hq", scopes=[ApiScope.IMPROVEMENT_READ], by=None)
    response = client.get("/api/v1/improvement/initiatives/", HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert _names(response, "title") == {"There"} and response.json()["results"][0]["verdict"] == ""
    _key, secret = api_key_create(name="branch-key", scopes=[ApiScope.IMPROVEMENT_READ], by=None, branch=branch)
    response = client.get("/api/v1/improvement/initiatives/", HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert _names(response, "title") == set()
    response = client.get("/api/v1/improvement/scorecards/", {"period_start": "2026-10-01"},
                          HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert _names(response, "relationship_manager_username") == {"rm_here"}


def test_rm_api_reads_own_card(client, data):
    from django.contrib.auth import get_user_model

    rm = get_user_model().objects.get(username="rm_here")
    client.force_login(rm)
    response = client.get("/api/v1/improvement/scorecards/", {"period_start": "2026-10-01"})
    assert _names(response, "relationship_manager_username") == {"rm_here"}
    assert response.json()["results"][0]["policy_version"] == 1
