"""Fixtures for the improvement tests.

``kpi_registry`` stands in for the evaluation app's KPI registry at its published interface
(``kpi_definition_list`` / ``kpi_snapshot_value``), so these tests run before that app is merged.
The same behaviour against the real registry is in test_kpi_registry_integration.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest

from improvement import kpis


@dataclass
class FakeKpi:
    code: str
    label: str
    direction: str


class FakeRegistry:
    def __init__(self):
        self.definitions = [FakeKpi("satisfaction", "Satisfaction", "higher"),
                            FakeKpi("complaint_rate", "Complaint rate", "lower")]
        self.values: dict[tuple, Decimal] = {}

    def set(self, code, period_kind, period_start, value, branch_id=None):
        self.values[(code, period_kind, period_start, branch_id)] = Decimal(value)

    def kpi_definition_list(self):
        return list(self.definitions)

    def kpi_snapshot_value(self, *, kpi_code, period_kind, period_start, branch_id=None,
                           relationship_manager_id=None):
        return self.values.get((kpi_code, period_kind, period_start, branch_id))


@pytest.fixture
def kpi_registry(monkeypatch):
    registry = FakeRegistry()
    monkeypatch.setattr(kpis, "_registry", lambda: SimpleNamespace(
        kpi_definition_list=registry.kpi_definition_list, kpi_snapshot_value=registry.kpi_snapshot_value))
    return registry
