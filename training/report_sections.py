"""The quarterly training evaluation (MANUAL Ch. 5), a section of evaluation's quarterly reports.

Registered in ``core.reports`` from ``TrainingConfig.ready()`` (evaluation sits above training, so
training cannot import it). Figures, for the bank or one branch (the learner's branch when enrolled):

- per course, over the enrolments *due* in the quarter: enrolled, completed, completion rate,
  post-tested, pass rate, mean pre- and post-test score, mean knowledge gain (post - pre, points,
  people who sat both) and mean normalised gain ((post - pre) / (100 - pre)); a total row;
- system usage of each person who *completed* a course in the quarter, USAGE_WINDOW_WEEKS weeks
  before vs after (``training.selectors.usage_before_after``), and the means over those people.
"""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone
from django.utils.translation import gettext as _

from training import selectors
from training.selectors import TrainingKpiRow, UsageChange


def _num(value) -> float | None:
    return None if value is None else float(value)


def _text(value, suffix: str = "") -> str:
    return "-" if value is None else f"{value}{suffix}"


def _total(rows: list[TrainingKpiRow]) -> TrainingKpiRow:
    total = TrainingKpiRow(key=None, label=_("All courses"))
    for row in rows:
        total.enrolled += row.enrolled
        total.completed += row.completed
        total.post_tested += row.post_tested
        total.passed += row.passed
        total.pre_scores += row.pre_scores
        total.post_scores += row.post_scores
        total.gains += row.gains
        total.normalised_gains += row.normalised_gains
    return total


def _mean(values: list[Decimal | None]) -> Decimal | None:
    present = [value for value in values if value is not None]
    return (sum(present) / len(present)).quantize(Decimal("0.01")) if present else None


def _course_row(row: TrainingKpiRow) -> list:
    return [str(row.label), row.enrolled, row.completed, _num(row.completion_rate), row.post_tested,
            _num(row.pass_rate), _num(row.mean_pre), _num(row.mean_post), _num(row.mean_gain),
            _num(row.mean_normalised_gain)]


def _usage_row(change: UsageChange) -> list:
    enrolment = change.enrolment
    return [enrolment.user.display_name, str(enrolment.course.label),
            timezone.localtime(enrolment.completed_at).date().isoformat(),
            _num(change.interactions_per_week_before), _num(change.interactions_per_week_after),
            _num(change.dq_issues_per_week_before), _num(change.dq_issues_per_week_after),
            _num(change.handling_vs_standard_before), _num(change.handling_vs_standard_after)]


def quarterly_training_section(*, branch_id, period_start, period_end, starts_at, ends_at, **_ignored) -> dict:
    """The training evaluation of one quarter and scope, as ``core.reports`` describes a section."""
    courses = selectors.training_kpis_for_scope(branch_id=branch_id, group_by="course", due_from=period_start,
                                                due_to=period_end)
    total = _total(courses)
    changes = selectors.usage_before_after_for_scope(branch_id=branch_id, completed_from=starts_at,
                                                     completed_to=ends_at)
    paragraphs = []
    if total.enrolled:
        paragraphs.append(_(
            "%(enrolled)s training enrolments were due in the quarter and %(completed)s were completed "
            "(completion rate %(completion)s). Post-test pass rate %(pass_rate)s; mean knowledge gain "
            "%(gain)s points (normalised gain %(normalised)s).") % {
            "enrolled": total.enrolled, "completed": total.completed,
            "completion": _text(total.completion_rate, " %"), "pass_rate": _text(total.pass_rate, " %"),
            "gain": _text(total.mean_gain), "normalised": _text(total.mean_normalised_gain)})
    else:
        paragraphs.append(_("No training enrolment was due in the quarter."))
    if changes:
        paragraphs.append(_(
            "%(people)s course completions in the quarter: interactions recorded per week %(before)s before "
            "and %(after)s after training; data-quality issues per week %(dq_before)s before and %(dq_after)s "
            "after (means over the people, %(weeks)s weeks each side).") % {
            "people": len(changes), "weeks": selectors.USAGE_WINDOW_WEEKS,
            "before": _text(_mean([c.interactions_per_week_before for c in changes])),
            "after": _text(_mean([c.interactions_per_week_after for c in changes])),
            "dq_before": _text(_mean([c.dq_issues_per_week_before for c in changes])),
            "dq_after": _text(_mean([c.dq_issues_per_week_after for c in changes]))})
    paragraphs.append(_(
        "Method: enrolments due in the quarter, by the learner's branch when enrolled; knowledge gain is the "
        "post-test score minus the first pre-test score, normalised gain (post - pre) / (100 - pre); system "
        "usage is read from the CRM's own records in the weeks before and after each completion."))
    return {
        "title": _("Quarterly training evaluation"),
        "paragraphs": paragraphs,
        "tables": [
            {"title": _("Training by course"),
             "columns": [_("Course"), _("Enrolled"), _("Completions"), _("Completion rate (%)"), _("Post-tested"),
                         _("Pass rate (%)"), _("Mean pre-test score (%)"), _("Mean post-test score (%)"),
                         _("Mean knowledge gain (points)"), _("Mean normalised gain")],
             "rows": [_course_row(row) for row in courses] + ([_course_row(total)] if courses else [])},
            {"title": _("System usage before and after training"),
             "columns": [_("Staff member"), _("Course"), _("Completed on"), _("Interactions per week before"),
                         _("Interactions per week after"), _("Data-quality issues per week before"),
                         _("Data-quality issues per week after"), _("Handling time vs standard before"),
                         _("Handling time vs standard after")],
             "rows": [_usage_row(change) for change in changes]},
        ],
    }
