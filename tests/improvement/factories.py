"""Hand-made data for scorecards and initiatives."""

from __future__ import annotations

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
