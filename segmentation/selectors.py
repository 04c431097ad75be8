"""Reads for classification and tiering, each scoped to the viewer (STYLE.md §2).

Which customers a staff member may see is decided by customers.selectors.customer_list_visible_to;
every read here narrows that set, never widens it. An API key sees its branch, or all customers
when the key is not limited to a branch.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts import permissions
from accounts.models import Branch, User
from customers import selectors as customer_selectors
from customers.models import Customer
from segmentation.models import (
    BehaviourClass,
    CustomerSegment,
    OverrideStatus,
    Recommendation,
    RecommendationFeedback,
    RiskClass,
    RunStatus,
    SegmentationRun,
    SegmentHistory,
    SegmentOverride,
    ServiceStrategy,
    Tier,
    ValueClass,
)

SEGMENT_FILTERS = {
    "tier": Tier.values,
    "value_class": ValueClass.values,
    "behaviour_class": BehaviourClass.values,
    "risk_class": RiskClass.values,
}


def customers_visible_to(*, principal) -> QuerySet[Customer]:
    """Customers a staff member or an API key may see (accounts.scope, through customers' selector)."""
    return customer_selectors.customer_list_visible_to(user=principal)


def customer_get_visible_to(*, principal, customer_id: int) -> Customer:
    """One customer the principal may see; Customer.DoesNotExist otherwise (a 404)."""
    return customers_visible_to(principal=principal).get(pk=customer_id)


def segment_for(*, customer: Customer) -> CustomerSegment | None:
    """The customer's current segment (the caller fetched the customer through a scoped selector).

    An override that expired since the last pass no longer counts: its tier falls back to the
    computed one here too, so the page never shows an expired override.
    """
    segment = (CustomerSegment.objects.select_related("policy", "override", "override__decided_by")
               .filter(customer=customer).first())
    if segment is not None and segment.override is not None and (
        segment.override.expires_on < timezone.localdate() or segment.override.status != OverrideStatus.APPROVED
    ):
        segment.tier = segment.computed_tier
        segment.override = None
    return segment


def strategy_for(*, tier: str) -> ServiceStrategy | None:
    return ServiceStrategy.objects.filter(tier=tier).first()


def recommendation_list_for(*, customer: Customer) -> list[Recommendation]:
    """The customer's current recommendations with the latest feedback on each product."""
    latest_feedback = RecommendationFeedback.objects.filter(
        customer_id=OuterRef("customer_id"), product_id=OuterRef("product_id")
    ).order_by("-recorded_at", "-id")
    return list(
        Recommendation.objects.filter(customer=customer)
        .select_related("product", "because_product")
        .annotate(last_outcome=Subquery(latest_feedback.values("outcome")[:1]))
        .order_by("rank")
    )


def recommendation_get_visible_to(*, user: User, customer_id: int, recommendation_id: int) -> Recommendation:
    customer = customer_get_visible_to(principal=user, customer_id=customer_id)
    return (Recommendation.objects.select_related("product", "because_product")
            .get(pk=recommendation_id, customer=customer))


def override_pending_for(*, customer: Customer) -> SegmentOverride | None:
    return (SegmentOverride.objects.select_related("proposed_by")
            .filter(customer=customer, status=OverrideStatus.PROPOSED).first())


def override_list_to_decide(*, user: User) -> QuerySet[SegmentOverride]:
    """Proposed overrides an approver may decide: a branch manager's branch, an admin's all."""
    overrides = SegmentOverride.objects.filter(status=OverrideStatus.PROPOSED).select_related(
        "customer", "customer__branch", "proposed_by"
    ).order_by("proposed_at", "id")
    if permissions.is_admin(user):
        return overrides
    if permissions.is_branch_manager(user) and user.branch_id is not None:
        return overrides.filter(customer__branch_id=user.branch_id)
    return overrides.none()


def override_get_to_decide(*, user: User, override_id: int) -> SegmentOverride:
    return override_list_to_decide(user=user).get(pk=override_id)


def segments_visible_to(*, principal) -> QuerySet[CustomerSegment]:
    return CustomerSegment.objects.filter(customer__in=customers_visible_to(principal=principal).order_by()
                                          .values("pk"))


def segment_overview(*, user: User) -> dict:
    """Counts per branch and tier / class, and the tier movement matrix, in a constant number of queries.

    The overview's scope is the branch: a branch manager's own, every branch for head office
    (admin, compliance auditor); counted on CustomerSegment.branch (the branch at classification),
    from the (branch, tier, classes) index. ``movement`` counts customers by (tier before the last
    full run, tier after it) from that run's history rows; "" is "not classified before"; the
    diagonal is the customers it did not move.
    """
    segments = CustomerSegment.objects.all()
    if not permissions.sees_all_branches(user):
        if not permissions.is_branch_manager(user) or user.branch_id is None:
            segments = segments.none()
        else:
            segments = segments.filter(branch_id=user.branch_id)
    rows = (segments.order_by()
            .values_list("branch_id", "tier", "value_class", "behaviour_class", "risk_class")
            .annotate(count=Count("pk")))
    branch_counts: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for branch_id, tier, value_class, behaviour_class, risk_class, count in rows:
        counts = branch_counts[branch_id]
        for key in (f"tier:{tier}", f"value_class:{value_class}", f"behaviour_class:{behaviour_class}",
                    f"risk_class:{risk_class}", "total"):
            counts[key] += count
            totals[key] += count
    branches = {branch.pk: branch for branch in Branch.objects.filter(pk__in=list(branch_counts))}
    last_full_run = (SegmentationRun.objects.filter(kind=SegmentationRun.Kind.FULL, status=RunStatus.DONE)
                     .order_by("-started_at", "-id").first())
    movement: dict[tuple[str, str], int] = {}
    if last_full_run is not None:
        history = SegmentHistory.objects.filter(run=last_full_run).exclude(from_tier=F("to_tier"))
        if not permissions.sees_all_branches(user):
            history = history.filter(customer_id__in=segments.values("customer_id"))
        moves = history.order_by().values_list("from_tier", "to_tier").annotate(count=Count("pk"))
        movement = {(from_tier, to_tier): count for from_tier, to_tier, count in moves}
        for tier in Tier.values:
            moved_in = sum(count for (from_tier, to_tier), count in movement.items() if to_tier == tier)
            movement[(tier, tier)] = max(totals.get(f"tier:{tier}", 0) - moved_in, 0)
    return {
        "branches": [
            {"branch": branches[branch_id], "counts": dict(counts)}
            for branch_id, counts in sorted(branch_counts.items(), key=lambda item: branches[item[0]].code)
        ],
        "totals": dict(totals),
        "movement": movement,
    }


def segment_run_latest() -> SegmentationRun | None:
    return SegmentationRun.objects.select_related("policy").order_by("-started_at", "-id").first()


def segment_customer_list_visible_to(*, user: User, filters: dict, branch_id: int | None = None
                                     ) -> QuerySet[CustomerSegment]:
    """Segments of the customers the user may see, filtered by tier / class; ordered by customer id."""
    segments = segments_visible_to(principal=user).select_related(
        "customer", "customer__branch", "customer__relationship_manager"
    ).defer("customer__id_number", "customer__email", "customer__address",
            "customer__id_number_bidx", "customer__phone_bidx")
    for name, value in filters.items():
        if name in SEGMENT_FILTERS and value:
            segments = segments.filter(**{name: value})
    if branch_id:
        segments = segments.filter(customer__branch_id=branch_id)
    return segments.order_by("customer_id")


def segment_list_for_api(*, principal, tier: str | None, after: int, limit: int) -> list[CustomerSegment]:
    """A keyset page (customer id > after) of segments the principal may see."""
    segments = segments_visible_to(principal=principal).filter(customer_id__gt=after)
    if tier:
        segments = segments.filter(tier=tier)
    return list(segments.order_by("customer_id")[:limit])


def tier_moves_up_count(*, since: datetime, until: datetime) -> int:
    """Customers who moved up at least one tier in [since, until): the manual's tier conversion (MANUAL 6)."""
    return (SegmentHistory.objects
            .filter(changed_at__gte=since, changed_at__lt=until, from_tier_rank__gt=0,
                    to_tier_rank__gt=F("from_tier_rank"))
            .values("customer_id").distinct().count())
