"""Reads of the continuous-improvement chapter, scoped to the viewer (STYLE §2).

Initiatives: head office all; a branch manager their branch's and the bank-wide ones; anyone else
those they own or work on. Suggestions: head office all; a branch manager their branch's; anyone
else their own. Scorecards: an RM their own, a branch manager their branch's, head office all.
An API key sees its branch (bank-wide initiatives too), or everything when it has none.
"""

from __future__ import annotations

from datetime import date

from django.db.models import Q, QuerySet

from accounts import permissions as roles
from accounts import scope
from customers import selectors as customer_selectors
from improvement.models import (
    CustomerFeedbackReward,
    Initiative,
    PeriodKind,
    Scorecard,
    StaffReward,
    Suggestion,
    period_end_of,
)


def _union(scopes: list[Q]) -> Q | None:
    if not scopes:
        return None
    combined = scopes[0]
    for extra in scopes[1:]:
        combined |= extra
    return combined


def _scoped(queryset: QuerySet, rows_q: Q | None) -> QuerySet:
    return queryset.none() if rows_q is None else queryset.filter(rows_q)


def initiative_list_visible_to(*, principal) -> QuerySet[Initiative]:
    queryset = Initiative.objects.select_related("owner", "branch", "suggestion")
    if not scope.is_staff_principal(principal):
        branch_id = principal.branch_id
        return queryset if not branch_id else queryset.filter(Q(branch_id=branch_id) | Q(branch__isnull=True))
    if roles.sees_all_branches(principal):
        return queryset
    scopes = [Q(owner_id=principal.pk), Q(team__id=principal.pk)]
    if roles.is_branch_manager(principal) and principal.branch_id is not None:
        scopes.append(Q(branch_id=principal.branch_id) | Q(branch__isnull=True))
    return _scoped(queryset, _union(scopes)).distinct()


def initiative_get_visible_to(*, principal, initiative_id: int) -> Initiative:
    return initiative_list_visible_to(principal=principal).get(pk=initiative_id)


def initiatives_in_period(*, principal, period_kind: str, period_start: date) -> QuerySet[Initiative]:
    """Initiatives under way at some time in the period (opened before its end, not closed before its start)."""
    end = period_end_of(period_kind, period_start)
    return initiative_list_visible_to(principal=principal).filter(
        Q(closed_at__isnull=True) | Q(closed_at__date__gte=period_start), created_at__date__lt=end,
    ).order_by("branch__code", "created_at", "id")


def suggestion_list_visible_to(*, user) -> QuerySet[Suggestion]:
    queryset = Suggestion.objects.select_related("submitted_by", "branch", "reviewed_by")
    if roles.sees_all_branches(user):
        return queryset
    scopes = [Q(submitted_by_id=user.pk)]
    if roles.is_branch_manager(user) and user.branch_id is not None:
        scopes.append(Q(branch_id=user.branch_id))
    return _scoped(queryset, _union(scopes))


def suggestion_get_visible_to(*, user, suggestion_id: int) -> Suggestion:
    return suggestion_list_visible_to(user=user).get(pk=suggestion_id)


def staff_rewards_for(*, suggestion: Suggestion) -> QuerySet[StaffReward]:
    return suggestion.rewards.select_related("initiative").order_by("awarded_at")


def customer_rewards_visible_to(*, user) -> QuerySet[CustomerFeedbackReward]:
    """Rewards to the customers the user may see (the customers app answers which)."""
    visible = customer_selectors.customer_list_visible_to(user=user).values("pk")
    return CustomerFeedbackReward.objects.filter(customer_id__in=visible).select_related(
        "customer", "survey_response", "granted_by")


def scorecard_list_visible_to(*, principal, period_kind: str = PeriodKind.MONTH,
                              period_start: date | None = None) -> QuerySet[Scorecard]:
    queryset = Scorecard.objects.select_related("relationship_manager", "branch", "policy").filter(
        period_kind=period_kind)
    if period_start is not None:
        queryset = queryset.filter(period_start=period_start)
    if not scope.is_staff_principal(principal):
        rows_q = Q(branch_id=principal.branch_id) if principal.branch_id else Q()
    elif roles.sees_all_branches(principal):
        rows_q = Q()
    else:
        scopes = []
        if roles.is_relationship_manager(principal):
            scopes.append(Q(relationship_manager_id=principal.pk))
        if roles.is_branch_manager(principal) and principal.branch_id is not None:
            scopes.append(Q(branch_id=principal.branch_id))
        rows_q = _union(scopes)
    return _scoped(queryset, rows_q).order_by("branch__code", "rank_in_branch", "relationship_manager__username")


def scorecard_periods(*, period_kind: str) -> list[date]:
    """Periods that have scorecards, newest first."""
    return list(Scorecard.objects.filter(period_kind=period_kind).order_by("-period_start")
                .values_list("period_start", flat=True).distinct()[:36])
