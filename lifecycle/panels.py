"""What lifecycle plugs into lower apps' registries: the 360 panel and the RM's dashboard tile."""

from __future__ import annotations

from lifecycle import permissions, selectors
from lifecycle.models import RetentionStatus
from segmentation import selectors as segmentation_selectors


def customer_panel_context(*, request, customer) -> dict | None:
    """Stage, churn probability, reasons and the open retention task on the customer 360 page."""
    if not permissions.can_see_lifecycle_panel(request.user):
        return None
    stage = selectors.stage_for(customer=customer)
    score = selectors.churn_score_for(customer=customer)
    segment = segmentation_selectors.segment_for(customer=customer)
    tier = segment.tier if segment else ""
    return {
        "lc_stage": stage,
        "lc_strategy": selectors.strategy_for(stage=stage.stage, tier=tier) if stage else None,
        "lc_score": score,
        "lc_reasons": selectors.reasons_text(score.reasons) if score else [],
        "lc_task": selectors.open_retention_task_for(customer=customer),
        "lc_history": selectors.stage_history_for(customer=customer, limit=5),
    }


def at_risk_tile_context(*, request) -> dict | None:
    """The RM's home tile: their customers at high risk and their open retention tasks."""
    user = request.user
    if not permissions.can_view_at_risk(user):
        return None
    run = selectors.churn_score_latest_run()
    if run is None:
        return {"lc_run": None}
    threshold = float(run.policy.high_risk_probability_pct) / 100
    return {
        "lc_run": run,
        "lc_high_risk": selectors.churn_score_list_visible_to(principal=user, min_probability=threshold,
                                                              run=run).count(),
        "lc_open_tasks": selectors.retention_task_list_visible_to(principal=user,
                                                                  status=RetentionStatus.OPEN).count(),
    }
