"""Reads of the training chapter, scoped to the viewer (STYLE §2), and the training KPIs.

Scope: a learner sees their own enrolments; a branch manager those of their branch; head office
(compliance auditor, administrator) all. An API key sees its branch, or all when it has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Exists, F, FloatField, Max, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Cast
from django.utils import timezone

from accounts import permissions as roles
from accounts import scope
from customers.models import DataQualityIssue, Interaction
from service.models import ServiceRecord
from training import permissions
from training.models import (
    AssessmentStage,
    Attempt,
    Course,
    Enrolment,
    Question,
    TrainingSession,
    knowledge_gain,
)

# System usage is compared over this many weeks before and after the day a course was completed.
USAGE_WINDOW_WEEKS = 8


# --- Scope -----------------------------------------------------------------------------------


def enrolment_scope_q(*, principal, prefix: str = "") -> Q | None:
    """Filter on rows carrying ``user_id`` and ``branch_id`` (under ``prefix``); Q() all, None none."""
    if not scope.is_staff_principal(principal):
        return Q(**{f"{prefix}branch_id": principal.branch_id}) if principal.branch_id else Q()
    if roles.sees_all_branches(principal):
        return Q()
    scopes = []
    if permissions.can_learn(principal):
        scopes.append(Q(**{f"{prefix}user_id": principal.pk}))
    if roles.is_branch_manager(principal) and principal.branch_id is not None:
        scopes.append(Q(**{f"{prefix}branch_id": principal.branch_id}))
    if not scopes:
        return None
    combined = scopes[0]
    for extra in scopes[1:]:
        combined |= extra
    return combined


def _with_scores(enrolments: QuerySet[Enrolment]) -> QuerySet[Enrolment]:
    """Annotate the first pre-test score, the best post-test score and whether it passed."""
    attempts = Attempt.objects.filter(enrolment=OuterRef("pk"))
    return enrolments.annotate(
        pre_score=Subquery(attempts.filter(stage=AssessmentStage.PRE).order_by("number").values("score_pct")[:1]),
        post_score=Subquery(attempts.filter(stage=AssessmentStage.POST).order_by("-score_pct", "number")
                            .values("score_pct")[:1]),
        post_attempts=Subquery(attempts.filter(stage=AssessmentStage.POST).values("enrolment")
                               .annotate(n=Count("pk")).values("n")[:1]),
        post_passed=Exists(attempts.filter(stage=AssessmentStage.POST, passed=True)),
    )


def enrolment_list_visible_to(*, principal) -> QuerySet[Enrolment]:
    """Training records the principal may read, with scores; newest due first."""
    rows_q = enrolment_scope_q(principal=principal)
    queryset = Enrolment.objects.select_related("course", "user", "branch")
    queryset = queryset.none() if rows_q is None else queryset.filter(rows_q)
    return _with_scores(queryset).order_by("-due_on", "-id")


def enrolment_list_for_learner(*, user) -> QuerySet[Enrolment]:
    modules_total = Count("course__modules", distinct=True)
    return _with_scores(
        Enrolment.objects.filter(user=user).select_related("course")
        .annotate(modules_total=modules_total, modules_done=Count("module_progress", distinct=True))
    ).order_by("completed_at", "due_on", "id")


def enrolment_get_for_learner(*, user, course_id: int) -> Enrolment | None:
    return _with_scores(Enrolment.objects.filter(user=user, course_id=course_id).select_related("course")).first()


# --- Catalogue -------------------------------------------------------------------------------


def course_list(*, audience: str = "", area: str = "", mode: str = "") -> QuerySet[Course]:
    courses = Course.objects.filter(is_active=True).annotate(module_count=Count("modules", distinct=True))
    if audience:
        courses = courses.filter(audience=audience)
    if area:
        courses = courses.filter(area=area)
    if mode:
        courses = courses.filter(mode=mode)
    return courses


def course_get(*, course_id: int) -> Course:
    return Course.objects.prefetch_related("modules").get(pk=course_id, is_active=True)


def questions_for_test(*, course: Course) -> list[Question]:
    """The questions to ask, with their choices; templates never read ``is_correct`` before submission."""
    return list(course.questions.filter(is_active=True).prefetch_related(
        Prefetch("choices", to_attr="choice_list")))


def attempt_get_for_learner(*, user, attempt_id: int) -> Attempt:
    return Attempt.objects.select_related("enrolment__course").get(pk=attempt_id, enrolment__user=user)


def session_list_visible_to(*, user) -> QuerySet[TrainingSession]:
    sessions = TrainingSession.objects.select_related("course", "branch", "instructor")
    if roles.sees_all_branches(user):
        return sessions
    return sessions.filter(Q(branch__isnull=True) | Q(branch_id=user.branch_id) | Q(instructor=user))


def session_get_visible_to(*, user, session_id: int) -> TrainingSession:
    return session_list_visible_to(user=user).get(pk=session_id)


def session_learners(*, session: TrainingSession) -> QuerySet[Enrolment]:
    """Who is enrolled on the session's course within its branch (all branches for a bank-wide session)."""
    enrolments = Enrolment.objects.filter(course_id=session.course_id).select_related("user")
    if session.branch_id is not None:
        enrolments = enrolments.filter(branch_id=session.branch_id)
    return enrolments.order_by("user__username")


# --- KPIs ------------------------------------------------------------------------------------


@dataclass
class TrainingKpiRow:
    """Training KPIs of one person, branch or course. Rates are percentages (None: nothing to rate)."""

    key: object
    label: str
    enrolled: int = 0
    completed: int = 0
    post_tested: int = 0
    passed: int = 0
    pre_scores: list[Decimal] = field(default_factory=list)
    post_scores: list[Decimal] = field(default_factory=list)
    gains: list[Decimal] = field(default_factory=list)
    normalised_gains: list[Decimal] = field(default_factory=list)

    @staticmethod
    def _pct(part: int, whole: int) -> Decimal | None:
        return (Decimal(100) * part / whole).quantize(Decimal("0.1")) if whole else None

    @staticmethod
    def _mean(values: list[Decimal], places: str = "0.1") -> Decimal | None:
        return (sum(values) / len(values)).quantize(Decimal(places)) if values else None

    @property
    def completion_rate(self) -> Decimal | None:
        return self._pct(self.completed, self.enrolled)

    @property
    def pass_rate(self) -> Decimal | None:
        return self._pct(self.passed, self.post_tested)

    @property
    def mean_pre(self) -> Decimal | None:
        return self._mean(self.pre_scores)

    @property
    def mean_post(self) -> Decimal | None:
        return self._mean(self.post_scores)

    @property
    def mean_gain(self) -> Decimal | None:
        """Mean raw gain (post - pre, points) over people who sat both tests."""
        return self._mean(self.gains)

    @property
    def mean_normalised_gain(self) -> Decimal | None:
        """Mean of each person's normalised gain (people who scored 100 on the pre-test are left out)."""
        return self._mean(self.normalised_gains, "0.001")


GROUPS = {
    "person": ("user_id", lambda e: e.user.display_name),
    "branch": ("branch_id", lambda e: e.branch.name if e.branch else "—"),
    "course": ("course_id", lambda e: e.course.label),
}


def training_kpis(*, principal, group_by: str, due_from: date | None = None,
                  due_to: date | None = None) -> list[TrainingKpiRow]:
    """Completion, pass rate and knowledge gain per person, branch or course over the enrolments
    the principal may see, optionally those due in [due_from, due_to] (a quarter's evaluation).
    """
    enrolments = enrolment_list_visible_to(principal=principal)
    if due_from:
        enrolments = enrolments.filter(due_on__gte=due_from)
    if due_to:
        enrolments = enrolments.filter(due_on__lte=due_to)
    return _kpi_rows(enrolments, group_by=group_by)


def _enrolments_of_scope(*, branch_id: int | None) -> QuerySet[Enrolment]:
    """Every enrolment of the bank (None) or of one branch (the learner's branch when enrolled), with scores.

    For the periodic reports, which are for a scope, not a viewer (evaluation decides who reads them).
    """
    enrolments = _with_scores(Enrolment.objects.select_related("user", "branch", "course"))
    return enrolments if branch_id is None else enrolments.filter(branch_id=branch_id)


def training_kpis_for_scope(*, branch_id: int | None, group_by: str, due_from: date,
                            due_to: date) -> list[TrainingKpiRow]:
    """``training_kpis`` of the enrolments due in [due_from, due_to] of the bank or one branch."""
    enrolments = _enrolments_of_scope(branch_id=branch_id).filter(due_on__gte=due_from, due_on__lte=due_to)
    return _kpi_rows(enrolments, group_by=group_by)


def _kpi_rows(enrolments: QuerySet[Enrolment], *, group_by: str) -> list[TrainingKpiRow]:
    key_field, label_of = GROUPS[group_by]
    rows: dict[object, TrainingKpiRow] = {}
    for enrolment in enrolments.order_by():
        key = getattr(enrolment, key_field)
        row = rows.get(key)
        if row is None:
            row = rows[key] = TrainingKpiRow(key=key, label=label_of(enrolment))
        row.enrolled += 1
        row.completed += enrolment.completed_at is not None
        if enrolment.post_attempts:
            row.post_tested += 1
            row.passed += enrolment.post_passed
        if enrolment.pre_score is not None:
            row.pre_scores.append(enrolment.pre_score)
        if enrolment.post_score is not None:
            row.post_scores.append(enrolment.post_score)
        raw, normalised = knowledge_gain(enrolment.pre_score, enrolment.post_score)
        if raw is not None:
            row.gains.append(raw)
        if normalised is not None:
            row.normalised_gains.append(normalised)
    return sorted(rows.values(), key=lambda row: str(row.label))


@dataclass
class UsageChange:
    """One person's system usage in the weeks before and after completing a course."""

    enrolment: Enrolment
    weeks_after: int
    interactions_per_week_before: Decimal | None
    interactions_per_week_after: Decimal | None
    dq_issues_per_week_before: Decimal | None
    dq_issues_per_week_after: Decimal | None
    handling_vs_standard_before: Decimal | None  # mean handling time ÷ target time (1.00 = on standard)
    handling_vs_standard_after: Decimal | None


def _per_week(count: int | None, weeks: int) -> Decimal | None:
    if not weeks:
        return None
    return (Decimal(count or 0) / weeks).quantize(Decimal("0.01"))


def _ratio(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def usage_before_after(*, principal, course_id: int | None = None, now: datetime | None = None,
                       limit: int = 500) -> list[UsageChange]:
    """System usage from the CRM's own data, before vs after each completed enrolment in scope.

    Over USAGE_WINDOW_WEEKS weeks each side of the completion time (the "after" window cut at
    now, in whole weeks; a week under way
    counts toward the last whole one): interactions the person recorded per week; data-quality issues opened
    on the customers they manage per week (the data-quality pass does not record who made an
    edit, so the customers one looks after stand for the edits one makes); and their service
    records' mean handling time divided by each record's target time.
    """
    enrolments = enrolment_list_visible_to(principal=principal).filter(completed_at__isnull=False)
    if course_id:
        enrolments = enrolments.filter(course_id=course_id)
    return _usage_changes(enrolments, now=now or timezone.now(), limit=limit)


def usage_before_after_for_scope(*, branch_id: int | None, completed_from: datetime, completed_to: datetime,
                                 now: datetime | None = None, limit: int = 5000) -> list[UsageChange]:
    """``usage_before_after`` of the enrolments of the bank or one branch completed in [from, to)."""
    enrolments = _enrolments_of_scope(branch_id=branch_id).filter(completed_at__gte=completed_from,
                                                                  completed_at__lt=completed_to)
    return _usage_changes(enrolments.order_by("completed_at", "id"), now=now or timezone.now(), limit=limit)


def _usage_changes(enrolments: QuerySet[Enrolment], *, now: datetime, limit: int) -> list[UsageChange]:
    window = timedelta(weeks=USAGE_WINDOW_WEEKS)

    def count(model, person_field, time_field, lower, upper):
        rows = model.objects.filter(**{person_field: OuterRef("user_id"), f"{time_field}__gte": lower,
                                       f"{time_field}__lt": upper})
        return Subquery(rows.order_by().values(person_field).annotate(n=Count("pk")).values("n")[:1])

    def handling(lower, upper):
        rows = ServiceRecord.objects.filter(staff_id=OuterRef("user_id"), started_at__gte=lower,
                                            started_at__lt=upper)
        ratio = Cast(F("handling_seconds"), FloatField()) / (Cast(F("target_minutes"), FloatField()) * 60.0)
        return Subquery(rows.order_by().values("staff_id").annotate(r=Avg(ratio)).values("r")[:1])

    annotated = enrolments.annotate(
        ia_before=count(Interaction, "staff_id", "occurred_at", OuterRef("completed_at") - window,
                        OuterRef("completed_at")),
        ia_after=count(Interaction, "staff_id", "occurred_at", OuterRef("completed_at"),
                       OuterRef("completed_at") + window),
        dq_before=count(DataQualityIssue, "customer__relationship_manager_id", "opened_at",
                        OuterRef("completed_at") - window, OuterRef("completed_at")),
        dq_after=count(DataQualityIssue, "customer__relationship_manager_id", "opened_at",
                       OuterRef("completed_at"), OuterRef("completed_at") + window),
        handling_before=handling(OuterRef("completed_at") - window, OuterRef("completed_at")),
        handling_after=handling(OuterRef("completed_at"), OuterRef("completed_at") + window),
    )
    changes = []
    for enrolment in annotated[:limit]:
        weeks_after = min(USAGE_WINDOW_WEEKS, max(0, (now - enrolment.completed_at).days // 7))
        changes.append(UsageChange(
            enrolment=enrolment, weeks_after=weeks_after,
            interactions_per_week_before=_per_week(enrolment.ia_before, USAGE_WINDOW_WEEKS),
            interactions_per_week_after=_per_week(enrolment.ia_after, weeks_after),
            dq_issues_per_week_before=_per_week(enrolment.dq_before, USAGE_WINDOW_WEEKS),
            dq_issues_per_week_after=_per_week(enrolment.dq_after, weeks_after),
            handling_vs_standard_before=_ratio(enrolment.handling_before),
            handling_vs_standard_after=_ratio(enrolment.handling_after) if weeks_after else None,
        ))
    return changes


def completion_pct_by_user(*, user_ids, due_to: date) -> dict[int, Decimal]:
    """Share of each person's enrolments due by ``due_to`` that are complete (for scorecards)."""
    rows = (Enrolment.objects.filter(user_id__in=user_ids, due_on__lte=due_to).values("user_id")
            .annotate(total=Count("pk"), done=Count("pk", filter=Q(completed_at__isnull=False))))
    return {row["user_id"]: Decimal(100) * row["done"] / row["total"] for row in rows}


def last_post_score(*, enrolment: Enrolment) -> Decimal | None:
    return enrolment.attempts.filter(stage=AssessmentStage.POST).aggregate(best=Max("score_pct"))["best"]
