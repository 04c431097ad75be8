"""Every write of the training chapter (STYLE §1): enrolment, progress, grading, attendance, reminders."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch, Role, User
from core import notifications
from core.errors import ApplicationError, ErrorCode
from training import content
from training.models import (
    AssessmentStage,
    Attempt,
    Attendance,
    Course,
    CourseModule,
    Enrolment,
    EnrolmentSource,
    ModuleProgress,
    Question,
    TrainingMode,
    TrainingSession,
)

OVERDUE_KIND = "training.enrolment_overdue"
PRE_TEST_ATTEMPTS = 1  # the pre-test is a baseline: one sitting, before the post-test


# --- Content ---------------------------------------------------------------------------------


@transaction.atomic
def course_module_save(*, module: CourseModule, upload: UploadedFile | None = None) -> CourseModule:
    """Save a module with its bodies sanitised and its file (if a new one) checked."""
    module.body = content.html_sanitize(module.body)
    module.body_zh = content.html_sanitize(module.body_zh)
    if upload is not None:
        module.attachment_content_type = content.upload_check(upload)
        module.attachment_name = (upload.name or "file")[:200]
        module.attachment_size_bytes = upload.size
        module.attachment = upload
    module.full_clean(exclude=["attachment"])
    module.save()
    return module


# --- Enrolment -------------------------------------------------------------------------------


@transaction.atomic
def enrolments_assign(*, course: Course, by: User | None, due_on: date, user: User | None = None,
                      role: str | None = None, branch: Branch | None = None,
                      limit_branch_id: int | None = None) -> int:
    """Enrol one person, everyone holding a role, or everyone in a branch; return how many were new.

    ``limit_branch_id`` keeps a branch manager's assignment inside their branch. People already
    enrolled keep their enrolment and due date.
    """
    if not course.is_active:
        raise ApplicationError.invalid(_("This course is no longer offered."), field="course")
    if sum(target is not None for target in (user, role, branch)) != 1:
        raise ApplicationError.invalid(_("Choose one person, one role or one branch."))
    if due_on < timezone.localdate():
        raise ApplicationError.invalid(_("The due date is in the past."), field="due_on")
    learners = User.objects.filter(is_active=True)
    if user is not None:
        learners, source = learners.filter(pk=user.pk), EnrolmentSource.PERSON
    elif role is not None:
        if role not in Role.values:
            raise ApplicationError.invalid(_("Unknown role."), field="role")
        learners, source = learners.filter(groups__name=role), EnrolmentSource.ROLE
    else:
        learners, source = learners.filter(branch=branch), EnrolmentSource.BRANCH
    if limit_branch_id is not None:
        learners = learners.filter(branch_id=limit_branch_id)
    now = timezone.now()
    candidates = dict(learners.distinct().values_list("pk", "branch_id"))
    if not candidates:
        raise ApplicationError.invalid(_("Nobody matches: no one was enrolled."))
    already = set(Enrolment.objects.filter(course=course, user_id__in=candidates).values_list("user_id", flat=True))
    rows = [
        Enrolment(course=course, user_id=learner_id, branch_id=branch_id, source=source, due_on=due_on,
                  assigned_by=by, enrolled_at=now)
        for learner_id, branch_id in candidates.items() if learner_id not in already
    ]
    # A concurrent assignment may win a row; the unique constraint keeps one enrolment per person.
    Enrolment.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)

@transaction.atomic
def enrolment_self_enrol(*, course: Course, user: User) -> Enrolment:
    """A learner signs up for an offered course themselves (due in 30 days)."""
    if not course.is_active:
        raise ApplicationError.invalid(_("This course is no longer offered."))
    enrolment, _created = Enrolment.objects.get_or_create(
        course=course, user=user,
        defaults={"branch_id": user.branch_id, "source": EnrolmentSource.PERSON,
                  "due_on": timezone.localdate() + timezone.timedelta(days=30), "assigned_by": user,
                  "enrolled_at": timezone.now()},
    )
    return enrolment


def _lock(enrolment: Enrolment) -> Enrolment:
    return Enrolment.objects.select_for_update(of=("self",)).select_related("course").get(pk=enrolment.pk)


@transaction.atomic
def module_complete(*, enrolment: Enrolment, module: CourseModule) -> ModuleProgress:
    """Mark a module done for the learner (idempotent) and complete the course when all is done."""
    enrolment = _lock(enrolment)
    if module.course_id != enrolment.course_id:
        raise ApplicationError(ErrorCode.NOT_FOUND)
    progress, _created = ModuleProgress.objects.get_or_create(
        enrolment=enrolment, module=module, defaults={"completed_at": timezone.now()})
    _completion_refresh(enrolment)
    return progress


def _completion_refresh(enrolment: Enrolment) -> None:
    """Complete the enrolment once every module is done, the post-test passed (when the course has
    questions) and, for classroom and drill courses, a session attended. Must hold the row lock.
    """
    if enrolment.completed_at is not None:
        return
    course = enrolment.course
    module_ids = set(course.modules.values_list("pk", flat=True))
    done_ids = set(enrolment.module_progress.values_list("module_id", flat=True))
    if not module_ids <= done_ids:
        return
    if course.questions.filter(is_active=True).exists() and not enrolment.attempts.filter(
            stage=AssessmentStage.POST, passed=True).exists():
        return
    if course.mode != TrainingMode.ONLINE and not Attendance.objects.filter(
            session__course=course, user_id=enrolment.user_id, attended=True).exists():
        return
    enrolment.completed_at = timezone.now()
    enrolment.save(update_fields=["completed_at"])


# --- Tests -----------------------------------------------------------------------------------


def _score(correct: int, total: int) -> Decimal:
    return (Decimal(100) * correct / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def grade(*, questions: list[Question], answers: dict[int, list[int]]) -> int:
    """How many questions were answered exactly right: the chosen set equals the correct set.

    A multiple-choice question with one right answer missing or one wrong answer ticked scores 0.
    """
    correct = 0
    for question in questions:
        right = {choice.pk for choice in question.choices.all() if choice.is_correct}
        chosen = set(answers.get(question.pk, []))
        if chosen and chosen == right:
            correct += 1
    return correct


def attempts_left(*, enrolment: Enrolment, stage: str) -> int:
    taken = enrolment.attempts.filter(stage=stage)
    if stage == AssessmentStage.PRE:
        return max(0, PRE_TEST_ATTEMPTS - taken.count())
    if taken.filter(passed=True).exists():
        return 0
    return max(0, enrolment.course.max_post_attempts - taken.count())


def sitting_refusal(*, enrolment: Enrolment, stage: str) -> str | None:
    """Why the learner may not sit this test now, or None when they may."""
    if not enrolment.course.questions.filter(is_active=True).exists():
        return _("This course has no test.")
    if stage == AssessmentStage.PRE:
        if enrolment.attempts.filter(stage=AssessmentStage.POST).exists():
            return _("The pre-test comes before the post-test.")
        if attempts_left(enrolment=enrolment, stage=stage) == 0:
            return _("You have already taken the pre-test.")
        return None
    if enrolment.attempts.filter(stage=AssessmentStage.POST, passed=True).exists():
        return _("You have already passed the post-test.")
    module_ids = set(enrolment.course.modules.values_list("pk", flat=True))
    if not module_ids <= set(enrolment.module_progress.values_list("module_id", flat=True)):
        return _("Finish every module before the post-test.")
    if attempts_left(enrolment=enrolment, stage=stage) == 0:
        return _("No attempts left.")
    return None


@transaction.atomic
def attempt_submit(*, enrolment: Enrolment, stage: str, answers: dict[int, list[int]]) -> Attempt:
    """Grade one sitting of the pre- or post-test and record it; refuse when no attempt is allowed.

    ``answers`` maps question id → chosen choice ids; unknown ids are ignored (they score nothing).
    """
    enrolment = _lock(enrolment)
    if stage not in AssessmentStage.values:
        raise ApplicationError.invalid(_("Unknown test."))
    refusal = sitting_refusal(enrolment=enrolment, stage=stage)
    if refusal:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, refusal)
    questions = list(enrolment.course.questions.filter(is_active=True).prefetch_related("choices"))
    valid = {question.pk: {choice.pk for choice in question.choices.all()} for question in questions}
    clean = {qid: sorted(set(chosen) & valid[qid]) for qid, chosen in answers.items() if qid in valid}
    correct = grade(questions=questions, answers=clean)
    score = _score(correct, len(questions))
    course = enrolment.course
    attempt = Attempt.objects.create(
        enrolment=enrolment, stage=stage, number=enrolment.attempts.filter(stage=stage).count() + 1,
        answers={str(qid): chosen for qid, chosen in clean.items()}, question_count=len(questions),
        correct_count=correct, score_pct=score, pass_mark_pct=course.pass_mark_pct,
        passed=score >= course.pass_mark_pct, submitted_at=timezone.now(),
    )
    if stage == AssessmentStage.POST:
        _completion_refresh(enrolment)
    return attempt


# --- Sessions and attendance -----------------------------------------------------------------


@transaction.atomic
def session_create(*, course: Course, kind: str, starts_at, ends_at, branch: Branch | None, location: str,
                   instructor: User | None) -> TrainingSession:
    if ends_at <= starts_at:
        raise ApplicationError.invalid(_("A session ends after it starts."), field="ends_at")
    session = TrainingSession(course=course, kind=kind, starts_at=starts_at, ends_at=ends_at, branch=branch,
                              location=location, instructor=instructor)
    session.full_clean()
    session.save()
    return session


@transaction.atomic
def attendance_record(*, session: TrainingSession, user: User, attended: bool, instructor_score: int | None,
                      note: str, by: User) -> Attendance:
    """Record whether someone came and the instructor's score; completes their enrolment if that was all."""
    if instructor_score is not None and not 0 <= instructor_score <= 100:
        raise ApplicationError.invalid(_("A score is between 0 and 100."), field="instructor_score")
    if instructor_score is not None and not attended:
        raise ApplicationError.invalid(_("Only someone who attended gets a score."), field="instructor_score")
    attendance, _created = Attendance.objects.update_or_create(
        session=session, user=user,
        defaults={"attended": attended, "instructor_score": instructor_score, "note": note,
                  "recorded_by": by, "recorded_at": timezone.now()},
    )
    enrolment = Enrolment.objects.filter(course_id=session.course_id, user=user).first()
    if enrolment is not None:
        _completion_refresh(_lock(enrolment))
    return attendance


# --- Reminders -------------------------------------------------------------------------------


def overdue_reminders_send(*, today: date | None = None) -> int:
    """Put one reminder a day in the inbox of each learner with an overdue, unfinished enrolment.

    Idempotent per enrolment and day (dedupe key), so a re-run or an overlapping beat sends nothing twice.
    """
    today = today or timezone.localdate()
    sent = 0
    overdue = Enrolment.objects.overdue(on=today).filter(user__is_active=True).select_related("course")
    for enrolment in overdue.iterator(chunk_size=500):
        with transaction.atomic():
            result = notifications.notification_send(
                recipient=enrolment.user_id, kind=OVERDUE_KIND,
                params={"course": enrolment.course.title, "course_zh": enrolment.course.title_zh,
                        "due": enrolment.due_on.isoformat()},
                url=reverse("training:course-detail", args=[enrolment.course_id]),
                dedupe_key=f"{OVERDUE_KIND}:{enrolment.pk}:{today.isoformat()}",
            )
        sent += result is not None
    return sent

