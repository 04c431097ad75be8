"""What lifecycle plugs into lower apps' registries: the 360 panel and the RM's dashboard tile."""

from __future__ import annotations

from accounts import permissions as roles
from lifecycle import permissions, selectors
from lifecycle.models import RetentionStatus, SuggestedAction


def customer_panel_context(*, request, customer) -> dict | None:
    """Stage, churn probability, reasons and the open retention task on the customer 360 page (two queries)."""
    if not permissions.can_see_lifecycle_panel(request.user):
        return None
    summary = selectors.lifecycle_summary_for(customer=customer)
    return {
        "lc_stage": summary,
        "lc_strategy_action": SuggestedAction(summary.strategy_action).label
        if summary and summary.strategy_action in SuggestedAction.values else "",
        "lc_task_action": SuggestedAction(summary.task_action).label
        if summary and summary.task_action in SuggestedAction.values else "",
        "lc_reasons": selectors.reasons_text(summary.score_reasons) if summary and summary.score_reasons else [],
        "lc_history": selectors.stage_history_for(customer=customer, limit=5) if summary else [],
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
    if roles.sees_all_branches(user):
        high_risk = run.high_risk  # counted by the run at the same threshold: no count over the whole bank
    else:
        high_risk = selectors.churn_score_list_visible_to(principal=user, min_probability=threshold,
                                                          run=run).count()
    return {
        "lc_run": run,
        "lc_high_risk": high_risk,
        "lc_open_tasks": selectors.retention_task_list_visible_to(principal=user,
                                                                  status=RetentionStatus.OPEN).count(),
    }
