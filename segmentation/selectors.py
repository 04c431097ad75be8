"""Reads for classification and tiering, each scoped to the viewer (STYLE.md §2).

Which customers a staff member may see is decided by customers.selectors.customer_list_visible_to;
every read here narrows that set, never widens it. An API key sees its branch, or all customers
when the key is not limited to a branch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts import permissions
from accounts.models import Branch, User
from customers import consent as customer_consent
from customers import selectors as customer_selectors
from customers.models import Customer, Product
from segmentation.models import (
    BehaviourClass,
    CustomerSegment,
    FeedbackOutcome,
    OverrideStatus,
    Recommendation,
    RecommendationFeedback,
    RiskClass,
    RunStatus,
    SegmentationPolicy,
    SegmentationRun,
    SegmentCount,
    SegmentHistory,
    SegmentMoveCount,
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


@dataclass(frozen=True)
class DeclinedProduct:
    """A product left out of the recommendations because the customer declined it (cool-off)."""

    product: Product
    declined_at: datetime
    offered_again_on: date
    policy_version: int


def recommendation_declined_for(*, customer: Customer, today: date | None = None) -> list[DeclinedProduct]:
    """Products the customer declined within the latest policy's cool-off: why they are not offered."""
    policy = SegmentationPolicy.objects.order_by("-version").first()
    if policy is None or not policy.declined_cooloff_days:
        return []
    today = today or timezone.localdate()
    since = today - timedelta(days=policy.declined_cooloff_days)
    latest: dict[int, RecommendationFeedback] = {}
    for feedback in (RecommendationFeedback.objects.filter(customer=customer, recorded_at__date__gte=since)
                     .select_related("product").order_by("product_id", "-recorded_at", "-id")):
        latest.setdefault(feedback.product_id, feedback)
    return [
        DeclinedProduct(product=feedback.product, declined_at=feedback.recorded_at,
                        offered_again_on=timezone.localdate(feedback.recorded_at)
                        + timedelta(days=policy.declined_cooloff_days + 1),
                        policy_version=policy.version)
        for feedback in latest.values() if feedback.outcome == FeedbackOutcome.DECLINED
    ]


def recommendation_contact_list_visible_to(*, user: User, channel: str | None = None) -> QuerySet[Recommendation]:
    """Recommendations to contact: the user's customers' current recommendations, but only for
    customers who gave marketing consent (on ``channel``, or on any channel); best rank first."""
    customers = customer_selectors.customer_list_visible_to(user=user).order_by().values("pk")
    return (Recommendation.objects.filter(customer_id__in=customers)
            .filter(customer_consent.marketing_consent_q(customer_ref="customer_id", channel=channel))
            .select_related("customer", "product", "because_product")
            .defer("customer__id_number", "customer__email", "customer__address",
                   "customer__id_number_bidx", "customer__phone_bidx")
            .order_by("rank", "customer_id"))


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
    """Counts per branch and tier / class, and the tier movement matrix, from the run's count tables.

    The overview's scope is the branch: a branch manager's own, every branch for head office
    (admin, compliance auditor); counted on CustomerSegment.branch (the branch at classification).
    The counts come from SegmentCount / SegmentMoveCount (a few hundred rows written by each
    classification run), never from counting the customers. ``movement`` counts customers by
    (tier before the last full run, tier after it); "" is "not classified before"; the diagonal
    is the customers it did not move.
    """
    counts_qs = SegmentCount.objects.all()
    moves_qs = SegmentMoveCount.objects.all()
    if not permissions.sees_all_branches(user):
        if not permissions.is_branch_manager(user) or user.branch_id is None:
            counts_qs, moves_qs = counts_qs.none(), moves_qs.none()
        else:
            counts_qs = counts_qs.filter(branch_id=user.branch_id)
            moves_qs = moves_qs.filter(branch_id=user.branch_id)
    rows = counts_qs.values_list("branch_id", "tier", "value_class", "behaviour_class", "risk_class", "customers")
    branch_counts: dict[int, dict] = defaultdict(lambda: defaultdict(int))
    totals: dict[str, int] = defaultdict(int)
    for branch_id, tier, value_class, behaviour_class, risk_class, count in rows:
        counts = branch_counts[branch_id]
        for key in (f"tier:{tier}", f"value_class:{value_class}", f"behaviour_class:{behaviour_class}",
                    f"risk_class:{risk_class}", "total"):
            counts[key] += count
            totals[key] += count
    branches = {branch.pk: branch for branch in Branch.objects.filter(pk__in=list(branch_counts))}
    movement: dict[tuple[str, str], int] = {}
    for from_tier, to_tier, count in moves_qs.values_list("from_tier", "to_tier", "customers"):
        movement[(from_tier, to_tier)] = movement.get((from_tier, to_tier), 0) + count
    if SegmentationRun.objects.filter(kind=SegmentationRun.Kind.FULL, status=RunStatus.DONE).exists():
        for tier in Tier.values:
            moved_in = sum(count for (from_tier, to_tier), count in movement.items() if to_tier == tier)
            movement[(tier, tier)] = max(totals.get(f"tier:{tier}", 0) - moved_in, 0)
    return {
        "branches": [
            {"branch": branches[branch_id], "counts": dict(counts)}
            for branch_id, counts in sorted(branch_counts.items(), key=lambda item: branches[item[0]].code)
            if branch_id in branches
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


def segment_list_for_api(*, principal, tier: str | None) -> QuerySet[CustomerSegment]:
    """Segments the principal may see, filtered by tier (the API pages them by customer id)."""
    segments = segments_visible_to(principal=principal)
    if tier:
        segments = segments.filter(tier=tier)
    return segments


def tier_moves_up_count(*, since: datetime, until: datetime) -> int:
    """Customers who moved up at least one tier in [since, until): the manual's tier conversion (MANUAL 6)."""
    return (SegmentHistory.objects
            .filter(changed_at__gte=since, changed_at__lt=until, from_tier_rank__gt=0,
                    to_tier_rank__gt=F("from_tier_rank"))
            .values("customer_id").distinct().count())
