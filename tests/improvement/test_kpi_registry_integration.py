"""AFTER MERGE: improvement against the real KPI registry of the evaluation app (issue #13).

Skipped until ``evaluation.selectors`` exists (it lands in the same merge as this chapter); once
merged these run with the rest of the suite. They repeat, on the real tables, what the other
improvement tests check through the ``kpi_registry`` stand-in: the initiative's baseline and
check reading come from KPI snapshots, and the verdict follows the KPI's direction.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

pytest.importorskip("evaluation.selectors")

from accounts.models import Role
from evaluation.models import KpiDefinition, KpiSnapshot
from improvement import services
from improvement.models import Phase, Verdict

pytestmark = pytest.mark.django_db


def _kpi(code: str, direction: str) -> KpiDefinition:
    return KpiDefinition.objects.create(code=code, name=f"Test {code}", unit="percent", direction=direction,
                                        numerator="n", period_rule="month", position=999)


def _snapshot(kpi: KpiDefinition, period_start: date, value: str, *, branch) -> KpiSnapshot:
    return KpiSnapshot.objects.create(
        kpi=kpi, period_kind="month", period_start=period_start, period_end=period_start.replace(day=28),
        scope="branch", branch=branch, dimension="", value=Decimal(value), data_as_of=timezone.now(),
        computed_at=timezone.now())


def test_initiative_reads_baseline_and_check_from_snapshots(make_user):
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    kpi = _kpi("it_complaint_rate", "lower")
    _snapshot(kpi, date(2026, 9, 1), "1.40", branch=manager.branch)
    initiative = services.initiative_create(
        by=manager, title="Fewer complaints", problem="p", owner=manager, team=[], branch=manager.branch,
        kpi_code=kpi.code, kpi_period_kind="month", baseline_period_start=date(2026, 9, 1),
        target_value=Decimal("1.0"), check_period_start=date(2026, 11, 1))
    assert initiative.baseline_value == Decimal("1.40") and initiative.direction == "lower"
    for phase in (Phase.DO, Phase.CHECK, Phase.ACT):
        initiative = services.initiative_advance(initiative=initiative, to_phase=phase, by=manager)
    _snapshot(kpi, date(2026, 11, 1), "0.90", branch=manager.branch)
    initiative = services.initiative_advance(initiative=initiative, to_phase=Phase.CLOSED, by=manager)
    assert (initiative.measured_value, initiative.verdict) == (Decimal("0.90"), Verdict.MET)


def test_check_phase_page_shows_the_snapshot_value(client_as):
    client = client_as("branch_manager")
    manager = client.user
    kpi = _kpi("it_satisfaction", "higher")
    _snapshot(kpi, date(2026, 9, 1), "78.5", branch=manager.branch)
    initiative = services.initiative_create(
        by=manager, title="Lift satisfaction", problem="p", owner=manager, team=[], branch=manager.branch,
        kpi_code=kpi.code, kpi_period_kind="month", baseline_period_start=date(2026, 9, 1),
        target_value=Decimal("85"), check_period_start=date(2026, 11, 1))
    _snapshot(kpi, date(2026, 11, 1), "86.2", branch=manager.branch)
    body = client.get(reverse("improvement:initiative-detail", args=[initiative.pk])).content.decode()
    assert "Test it_satisfaction" in body and "86.2" in body and "target met" in body
    form = client.get(reverse("improvement:initiative-create")).content.decode()
    assert kpi.code in form
