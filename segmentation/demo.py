"""Demo data for classification and tiering: called by seed_demo after customers are loaded."""

from __future__ import annotations

from datetime import date, datetime, time

from django.utils import timezone

from segmentation import services


def demo_seed_segmentation(*, as_of: date | datetime) -> dict:
    """Ensure the default policy and strategies, classify everyone and compute recommendations.

    ``as_of`` is the day the demo data ends (a date means the end of that day, local time).
    Returns counts for the seed summary.
    """
    if isinstance(as_of, datetime):
        as_of_at = as_of if timezone.is_aware(as_of) else timezone.make_aware(as_of)
    else:
        as_of_at = timezone.make_aware(datetime.combine(as_of, time.max.replace(microsecond=0)))
    policy = services.segmentation_defaults_ensure()
    result = services.segmentation_run(as_of=as_of_at)
    recommendations = services.recommendation_run(as_of=timezone.localdate(as_of_at))
    return {
        "policy_version": policy.version,
        "customers_classified": result.customers_classified,
        "customers_changed": result.customers_changed,
        "recommendations": recommendations.recommendations,
        "seconds": round(result.seconds, 1),
    }
