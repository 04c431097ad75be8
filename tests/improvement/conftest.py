"""Fixtures for the improvement tests.

``kpi_registry`` stands in for the evaluation app's KPI registry at its published interface
(``kpi_definition_list`` / ``kpi_snapshot_value``), so these tests run before that app is merged.
The same behaviour against the real registry is in test_kpi_registry_integration.py.
"""

from __future__ import annotations

import pytest

from tests.improvement.factories import FakeRegistry, fake_registry_install


@pytest.fixture
def kpi_registry(monkeypatch) -> FakeRegistry:
    return fake_registry_install(monkeypatch)
