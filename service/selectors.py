"""Reads for service processes and surveys, each scoped to the viewer (STYLE.md §2).

Rows that belong to a customer are scoped through customers.selectors.customer_list_visible_to
(a semi-join on the customer id), so who sees which customer is decided in one place. An API
key sees every customer, or its branch's when the key is limited to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import (
    Aggregate,
    Avg,
    Count,
    F,
    FloatField,
    Prefetch,
    Q,
    QuerySet,
)
from django.utils import timezone

from accounts import permissions
from accounts.models import Branch, User
from accounts.selectors import relationship_manager_ids_acting_for
from customers.models import Customer
from customers.selectors import customer_list_visible_to
from service.models import (
    CSAT_DISSATISFIED_MAX,
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    FeedbackTopic,
    FollowUpTask,
    ServiceRecord,
    SurveyResponse,
    Touchpoint,
)

# The dates a period filter accepts (report, API filters). Wide enough for any real question;
# the bounds keep ``date + 1 day`` and the conversion to an aware datetime from overflowing.
FILTER_DATE_EARLIEST = date(2000, 1, 1)
FILTER_DATE_LATEST = date(2100, 12, 31)


class PercentileCont(Aggregate):
    """PostgreSQL's percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, *, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be within [0, 1]")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


# --- Scope ----------------------------------------------------------------------------------


def customer_list_visible_to_principal(*, principal) -> QuerySet[Customer]:
    """The customers a staff user or an API key may reach (accounts.scope, through customers' selector)."""
    return customer_list_visible_to(user=principal)


def _scoped_to_customers(queryset: QuerySet, principal) -> QuerySet:
    visible_ids = customer_list_visible_to_principal(principal=principal).order_by().values("pk")
    return queryset.filter(customer_id__in=visible_ids)


# --- Touchpoints ----------------------------------------------------------------------------


def touchpoint_list_active() -> QuerySet[Touchpoint]:
    return Touchpoint.objects.filter(is_active=True).order_by("position", "id")


# --- Service records ------------------------------------------------------------------------


def service_record_list_visible_to(*, principal, customer_id: int | None = None,
                                   touchpoint: str | None = None) -> QuerySet[ServiceRecord]:
    """Return the service records of the customers the principal may see, newest first."""
    records = _scoped_to_customers(
        ServiceRecord.objects.select_related("customer", "touchpoint", "staff", "branch"), principal
    )
    if customer_id is not None:
        records = records.filter(customer_id=customer_id)
    if touchpoint:
        records = records.filter(touchpoint__code=touchpoint)
    return records.order_by("-started_at", "-id")


def service_record_list_for(*, customer: Customer) -> QuerySet[ServiceRecord]:
    """Return the customer's service records, newest first (the caller fetched the customer scoped)."""
    return (
        ServiceRecord.objects.filter(customer=customer)
        .select_related("touchpoint", "staff")
        .order_by("-started_at", "-id")
    )


# --- The branch service report ----------------------------------------------------------------


@dataclass(frozen=True)
class TouchpointReportRow:
    touchpoint: Touchpoint
    records: int
    median_minutes: float | None
    p90_minutes: float | None
    overruns: int
    responses: int
    csat_average: float | None
    nps: float | None

    @property
    def overrun_pct(self) -> float | None:
        return round(100 * self.overruns / self.records, 1) if self.records else None


@dataclass(frozen=True)
class ServiceReport:
    branch: Branch | None  # None: every branch, unless ``no_branch``
    since: date
    until: date
    rows: list[TouchpointReportRow]
    total_records: int
    total_overruns: int
    responses: int
    csat_average: float | None
    nps: float | None
    dimension_averages: dict[str, float | None]
    no_branch: bool = False  # a branch manager not posted to a branch: the report is empty

    @property
    def overrun_pct(self) -> float | None:
        return round(100 * self.total_overruns / self.total_records, 1) if self.total_records else None


def service_report_branches_for(*, user: User) -> QuerySet[Branch]:
    """The branches whose report the user may read: their own for a branch manager, all for head office."""
    if permissions.sees_all_branches(user):
        return Branch.objects.order_by("code")
    if permissions.is_branch_manager(user) and user.branch_id is not None:
        return Branch.objects.filter(pk=user.branch_id)
    return Branch.objects.none()


def _clamped(day: date) -> date:
    return min(max(day, FILTER_DATE_EARLIEST), FILTER_DATE_LATEST)


def _local_range(since: date, until: date) -> tuple[datetime, datetime]:
    """[start of ``since``, start of the day after ``until``) in local time.

    Dates outside FILTER_DATE_EARLIEST..FILTER_DATE_LATEST (forms and serializers refuse them)
    are clamped, so a caller that skipped validation gets an empty range, never an OverflowError.
    """
    zone = timezone.get_current_timezone()
    return (datetime.combine(_clamped(since), time.min, tzinfo=zone),
            datetime.combine(_clamped(until) + timedelta(days=1), time.min, tzinfo=zone))


def _nps(promoters: int, detractors: int, responses: int) -> float | None:
    return round(100 * (promoters - detractors) / responses, 1) if responses else None


def _survey_aggregates() -> dict:
    return {
        "responses": Count("id"),
        "csat_average": Avg("csat"),
        "promoters": Count("id", filter=Q(nps__gte=NPS_PROMOTER_MIN)),
        "detractors": Count("id", filter=Q(nps__lte=NPS_DETRACTOR_MAX)),
    }


def service_report(*, user: User, branch_id: int | None, since: date, until: date) -> ServiceReport:
    """Handling times (median, p90), overruns and survey answers by touchpoint for [since, until].

    A branch manager always gets their own branch, and nothing when not posted to one (as in
    complaints); head office the branch asked for, or every branch when ``branch_id`` is None.
    Raises Branch.DoesNotExist for a branch outside the user's reach. Three aggregate queries,
    whatever the number of records.
    """
    branches = service_report_branches_for(user=user)
    head_office = permissions.sees_all_branches(user)
    if not head_office:
        branch_id = user.branch_id
    no_branch = not head_office and branch_id is None
    branch = branches.get(pk=branch_id) if branch_id is not None else None
    start, end = _local_range(since, until)

    records = ServiceRecord.objects.filter(started_at__gte=start, started_at__lt=end)
    responses = SurveyResponse.objects.filter(invitation__service_record__started_at__gte=start,
                                              invitation__service_record__started_at__lt=end)
    if no_branch:
        # Only head office reads across branches; None must never mean "all" for anyone else.
        records, responses = records.none(), responses.none()
    elif branch is not None:
        records = records.filter(branch=branch)
        responses = responses.filter(invitation__service_record__branch=branch)

    by_touchpoint = {
        row["touchpoint_id"]: row
        for row in records.order_by().values("touchpoint_id").annotate(
            records=Count("id"),
            median_seconds=PercentileCont("handling_seconds", fraction=0.5),
            p90_seconds=PercentileCont("handling_seconds", fraction=0.9),
            overruns=Count("id", filter=Q(handling_seconds__gt=F("target_minutes") * 60)),
        )
    }
    surveys_by_touchpoint = {
        row["invitation__service_record__touchpoint_id"]: row
        for row in responses.order_by().values("invitation__service_record__touchpoint_id")
        .annotate(**_survey_aggregates())
    }
    totals = responses.aggregate(
        **_survey_aggregates(),
        score_service=Avg("score_service"), score_product=Avg("score_product"), score_ease=Avg("score_ease"),
    )
    touchpoints = Touchpoint.objects.filter(
        Q(is_active=True) | Q(pk__in=list(by_touchpoint))
    ).order_by("position", "id")
    rows = []
    for touchpoint in touchpoints:
        row = by_touchpoint.get(touchpoint.pk, {})
        survey = surveys_by_touchpoint.get(touchpoint.pk, {})
        rows.append(TouchpointReportRow(
            touchpoint=touchpoint,
            records=row.get("records", 0),
            median_minutes=_minutes(row.get("median_seconds")),
            p90_minutes=_minutes(row.get("p90_seconds")),
            overruns=row.get("overruns", 0),
            responses=survey.get("responses", 0),
            csat_average=_rounded(survey.get("csat_average")),
            nps=_nps(survey.get("promoters", 0), survey.get("detractors", 0), survey.get("responses", 0)),
        ))
    return ServiceReport(
        branch=branch, since=since, until=until, rows=rows,
        total_records=sum(row.records for row in rows),
        total_overruns=sum(row.overruns for row in rows),
        responses=totals["responses"],
        csat_average=_rounded(totals["csat_average"]),
        nps=_nps(totals["promoters"], totals["detractors"], totals["responses"]),
        dimension_averages={key: _rounded(totals[key]) for key in ("score_service", "score_product", "score_ease")},
        no_branch=no_branch,
    )


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


# --- Survey responses -----------------------------------------------------------------------

_TOPICS_PREFETCH = Prefetch("topics", queryset=FeedbackTopic.objects.order_by("name"))


def survey_response_list_visible_to(
    *,
    principal,
    customer_id: int | None = None,
    customer_number: str | None = None,
    trigger: str | None = None,
    dissatisfied: bool | None = None,
    topic: str | None = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
) -> QuerySet[SurveyResponse]:
    """Return the survey answers of the customers the principal may see, newest first; None does not filter."""
    responses = _scoped_to_customers(
        SurveyResponse.objects.select_related("invitation", "customer").prefetch_related(_TOPICS_PREFETCH),
        principal,
    )
    if customer_id is not None:
        responses = responses.filter(customer_id=customer_id)
    if customer_number:
        responses = responses.filter(customer__external_id=customer_number)
    if trigger:
        responses = responses.filter(invitation__trigger=trigger)
    if dissatisfied is not None:
        condition = Q(nps__lte=NPS_DETRACTOR_MAX) | Q(csat__lte=CSAT_DISSATISFIED_MAX)
        responses = responses.filter(condition) if dissatisfied else responses.exclude(condition)
    if topic:
        responses = responses.filter(topics__code=topic)
    if submitted_from is not None:
        responses = responses.filter(submitted_at__gte=_local_range(submitted_from, submitted_from)[0])
    if submitted_to is not None:
        responses = responses.filter(submitted_at__lt=_local_range(submitted_to, submitted_to)[1])
    return responses.order_by("-submitted_at", "-id")


def survey_response_get_visible_to(*, user: User, response_id: int) -> SurveyResponse:
    """One answer the user may see; SurveyResponse.DoesNotExist otherwise (a 404)."""
    return survey_response_list_visible_to(principal=user).get(pk=response_id)


def survey_response_list_for(*, customer: Customer) -> QuerySet[SurveyResponse]:
    """Return the customer's survey answers, newest first, with invitation and topics.

    For 360 panels: the caller has fetched the customer through customer_get_visible_to.
    """
    return (
        SurveyResponse.objects.filter(customer=customer)
        .select_related("invitation")
        .prefetch_related(_TOPICS_PREFETCH)
        .order_by("-submitted_at", "-id")
    )


def feedback_topic_list_active() -> QuerySet[FeedbackTopic]:
    return FeedbackTopic.objects.filter(is_active=True).order_by("name")


# --- Follow-up tasks ------------------------------------------------------------------------


def follow_up_list_visible_to(*, user: User, status: str | None = FollowUpTask.Status.OPEN) -> QuerySet[FollowUpTask]:
    """Return the follow-ups the user may see, earliest due first; ``status=None`` for any status.

    RM: tasks of the customers they serve (their own and delegated), branch manager: their
    branch's, auditor and admin: all; anyone else: none.
    """
    if not permissions.can_view_follow_ups(user):
        return FollowUpTask.objects.none()
    if permissions.sees_all_branches(user):
        tasks = FollowUpTask.objects.all()
    else:
        scope = Q(customer_id__in=customer_list_visible_to(user=user).order_by().values("pk"))
        tasks = FollowUpTask.objects.filter(scope)
        if not permissions.is_branch_manager(user):
            # An RM's scope without the branch-wide view a complaint desk role might add.
            tasks = tasks.filter(customer__relationship_manager_id__in=relationship_manager_ids_acting_for(user=user))
    tasks = tasks.select_related("customer", "assigned_to", "response")
    if status:
        tasks = tasks.filter(status=status)
    return tasks.order_by("due_on", "id")


def follow_up_get_visible_to(*, user: User, task_id: int) -> FollowUpTask:
    return follow_up_list_visible_to(user=user, status=None).get(pk=task_id)


def follow_up_list_for(*, customer: Customer, status: str | None = FollowUpTask.Status.OPEN) -> QuerySet[FollowUpTask]:
    tasks = FollowUpTask.objects.filter(customer=customer).select_related("assigned_to", "response")
    if status:
        tasks = tasks.filter(status=status)
    return tasks.order_by("due_on", "id")
