"""Hand-made data for scorecards and initiatives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils import timezone

from improvement.models import Suggestion
from segmentation.models import CustomerSegment


def segment(customer, clv_cny: str) -> CustomerSegment:
    """A current segment row carrying only the CLV the scorecard reads (the rest is filler)."""
    zero = Decimal("0")
    return CustomerSegment.objects.create(
        customer=customer, branch_id=customer.branch_id, value_class="low", behaviour_class="active",
        risk_class="low", computed_tier="general", tier="general", value_rule="-", behaviour_rule="-",
        amount_cny=zero, transaction_count=0, service_count=0, assets_cny=zero, large_movements=0,
        monthly_outflow_cny=zero, account_changes=0, risk_points=0, annual_margin_cny=zero,
        retention_pct=Decimal("80"), clv_cny=Decimal(clv_cny), fingerprint=0, policy_id=1, run_id=1,
        as_of=timezone.now(),
    )


def suggestion(by, **kwargs) -> Suggestion:
    defaults = {"title": "Shorter queue at the counter", "body": "Open a second window at lunch.",
                "submitted_by": by, "branch_id": by.branch_id, "submitted_at": timezone.now()}
    defaults.update(kwargs)
    return Suggestion.objects.create(**defaults)


PERIOD = date(2026, 10, 1)


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


def fake_registry_install(monkeypatch) -> FakeRegistry:
    """Stand in for the evaluation app's KPI registry at its published interface."""
    from types import SimpleNamespace

    from improvement import kpis

    registry = FakeRegistry()
    monkeypatch.setattr(kpis, "_registry", lambda: SimpleNamespace(
        kpi_definition_list=registry.kpi_definition_list, kpi_snapshot_value=registry.kpi_snapshot_value))
    return registry
