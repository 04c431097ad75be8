# ruff: noqa: RUF001 - Chinese full-width punctuation is intended in Chinese text.
"""Demo data for continuous improvement: an adopted suggestion with its reward and last month's
RM scorecards. Idempotent."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.models import User
from improvement import services
from improvement.models import PeriodKind, Suggestion, period_before, period_start_of


@transaction.atomic
def demo_seed_improvement(*, as_of: date) -> dict:
    author = User.objects.filter(username="rm1").first()
    manager = User.objects.filter(username="manager1").first()
    suggestions = 0
    if author and manager and not Suggestion.objects.filter(submitted_by=author).exists():
        idea = services.suggestion_submit(
            by=author, title="午间增开一个服务窗口",
            body="中午排队客户多，等候时间长，满意度下降。建议 11:30-13:30 增开一个窗口。")
        services.suggestion_decide(suggestion=idea, by=manager, adopt=True, reason="成本低，直接改善等候时间。",
                                   reward_points=50, bonus_points_if_met=200)
        services.suggestion_submit(by=author, title="客户生日提醒", body="在客户全景视图显示近期生日，便于关怀。")
        suggestions = 2
    month = period_before(PeriodKind.MONTH, period_start_of(PeriodKind.MONTH, as_of))
    cards = services.scorecards_compute(period_kind=PeriodKind.MONTH, period_start=month)
    return {"suggestions": suggestions, "scorecards": cards}
