"""Grading, attempts, knowledge gain, completion, enrolment and content safety, on hand-made data."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation

from accounts.models import Role
from core.errors import ApplicationError
from tests.accounts.factories import BranchFactory, UserFactory
from tests.training.factories import (
    CourseModuleFactory,
    EnrolmentFactory,
    choice_ids,
    course_with_bank,
)
from training import content, services
from training.models import (
    AssessmentStage,
    Attendance,
    Course,
    Enrolment,
    SessionKind,
    TrainingMode,
    knowledge_gain,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def learner(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="learner")


@pytest.fixture
def setup(learner):
    course, modules, bank = course_with_bank()
    enrolment = EnrolmentFactory(course=course, user=learner)
    return course, modules, bank, enrolment


def all_right(bank):
    return {
        bank["single"].pk: choice_ids(bank["single"], "A"),
        bank["multiple"].pk: choice_ids(bank["multiple"], "A", "B"),
        bank["tf1"].pk: choice_ids(bank["tf1"], "True"),
        bank["tf2"].pk: choice_ids(bank["tf2"], "False"),
    }


def finish_modules(enrolment, modules):
    for module in modules:
        services.module_complete(enrolment=enrolment, module=module)


def test_knowledge_gain_raw_and_normalised_known_answers():
    assert knowledge_gain(Decimal("40"), Decimal("70")) == (Decimal("30"), Decimal("0.500"))
    assert knowledge_gain(Decimal("80"), Decimal("90")) == (Decimal("10"), Decimal("0.500"))
    assert knowledge_gain(Decimal("50"), Decimal("25")) == (Decimal("-25"), Decimal("-0.500"))
    assert knowledge_gain(Decimal("100"), Decimal("100")) == (Decimal("0"), None)  # nothing left to learn
    assert knowledge_gain(None, Decimal("90")) == (None, None)


def test_grading_counts_a_question_right_only_when_the_chosen_set_is_exactly_right(setup):
    """Given the bank; when the learner gets single right, multiple half right, tf1 right, tf2 blank;
    then 2 of 4 are right: 50.00, below the pass mark of 60."""
    _course, _modules, bank, enrolment = setup
    answers = {
        bank["single"].pk: choice_ids(bank["single"], "A"),
        bank["multiple"].pk: choice_ids(bank["multiple"], "A"),
        bank["tf1"].pk: choice_ids(bank["tf1"], "True"),
    }
    attempt = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers=answers)
    assert (attempt.correct_count, attempt.question_count, attempt.score_pct) == (2, 4, Decimal("50.00"))
    assert attempt.passed is False and attempt.pass_mark_pct == 60


def test_ticking_every_choice_of_a_multiple_question_scores_nothing(setup):
    _course, _modules, bank, enrolment = setup
    answers = {bank["multiple"].pk: choice_ids(bank["multiple"], "A", "B", "C")}
    attempt = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers=answers)
    assert attempt.correct_count == 0


def test_choices_of_another_question_are_ignored(setup):
    _course, _modules, bank, enrolment = setup
    answers = {bank["single"].pk: choice_ids(bank["multiple"], "A")}
    attempt = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers=answers)
    assert attempt.correct_count == 0 and attempt.answers == {str(bank["single"].pk): []}


def test_pre_test_once_and_only_before_the_post_test(setup):
    _course, _modules, _bank, enrolment = setup
    services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers={})
    with pytest.raises(ApplicationError):
        services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers={})
    assert enrolment.attempts.filter(stage=AssessmentStage.PRE).count() == 1


def test_post_test_needs_every_module_done(setup):
    _course, modules, bank, enrolment = setup
    services.module_complete(enrolment=enrolment, module=modules[0])
    with pytest.raises(ApplicationError) as error:
        services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers=all_right(bank))
    assert "module" in error.value.message
    assert not enrolment.attempts.exists()


def test_post_attempts_are_limited_and_stop_after_a_pass(setup):
    """Given max 2 post attempts; a fail, then a pass completes the course; a third sitting is refused."""
    _course, modules, bank, enrolment = setup
    finish_modules(enrolment, modules)
    first = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers={})
    assert first.passed is False
    enrolment.refresh_from_db()
    assert enrolment.completed_at is None
    second = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers=all_right(bank))
    assert second.passed and second.number == 2 and second.score_pct == Decimal("100.00")
    enrolment.refresh_from_db()
    assert enrolment.completed_at is not None
    with pytest.raises(ApplicationError):
        services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers=all_right(bank))


def test_two_failed_post_tests_use_up_the_attempts(setup):
    _course, modules, _bank, enrolment = setup
    finish_modules(enrolment, modules)
    services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers={})
    services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers={})
    assert services.attempts_left(enrolment=enrolment, stage=AssessmentStage.POST) == 0
    with pytest.raises(ApplicationError):
        services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers={})
    assert enrolment.attempts.count() == 2


def test_pass_mark_is_the_one_in_force_when_graded(setup):
    course, modules, bank, enrolment = setup
    finish_modules(enrolment, modules)
    course.pass_mark_pct = 75
    course.save()
    answers = all_right(bank)
    answers.pop(bank["tf2"].pk)  # 3 of 4 = 75.00: exactly the mark passes
    attempt = services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers=answers)
    assert attempt.score_pct == Decimal("75.00") and attempt.passed and attempt.pass_mark_pct == 75


def test_classroom_course_completes_only_after_attendance(learner, make_user):
    course, modules, bank = course_with_bank(mode=TrainingMode.CLASSROOM)
    enrolment = EnrolmentFactory(course=course, user=learner)
    finish_modules(enrolment, modules)
    services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST, answers=all_right(bank))
    enrolment.refresh_from_db()
    assert enrolment.completed_at is None
    manager = make_user(Role.BRANCH_MANAGER, username="mgr")
    now = timezone.now()
    session = services.session_create(course=course, kind=SessionKind.CLASSROOM, starts_at=now,
                                      ends_at=now + timedelta(hours=2), branch=learner.branch, location="Room 1",
                                      instructor=manager)
    services.attendance_record(session=session, user=learner, attended=True, instructor_score=88, note="",
                               by=manager)
    enrolment.refresh_from_db()
    assert enrolment.completed_at is not None
    assert Attendance.objects.get(session=session, user=learner).instructor_score == 88


def test_attendance_refuses_a_score_for_an_absentee_and_out_of_range(learner, make_user):
    course, _modules, _bank = course_with_bank(mode=TrainingMode.DRILL)
    now = timezone.now()
    session = services.session_create(course=course, kind=SessionKind.DRILL, starts_at=now,
                                      ends_at=now + timedelta(hours=1), branch=None, location="", instructor=None)
    manager = make_user(Role.BRANCH_MANAGER, username="mgr")
    with pytest.raises(ApplicationError):
        services.attendance_record(session=session, user=learner, attended=False, instructor_score=50, note="",
                                   by=manager)
    with pytest.raises(ApplicationError):
        services.attendance_record(session=session, user=learner, attended=True, instructor_score=101, note="",
                                   by=manager)
    assert not Attendance.objects.exists()


def test_enrol_by_role_within_the_managers_branch(branch):
    """Given two RMs in the branch, one RM elsewhere and a desk clerk; when a manager enrols the RM role
    limited to the branch; then both branch RMs are enrolled, once, even when assigned twice."""
    course, _m, _b = course_with_bank()
    rm1 = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    rm2 = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"))
    UserFactory(roles=[Role.COMPLAINT_DESK], branch=branch)
    due = timezone.localdate() + timedelta(days=10)
    assert services.enrolments_assign(course=course, by=None, due_on=due, role=Role.RELATIONSHIP_MANAGER,
                                      limit_branch_id=branch.pk) == 2
    assert services.enrolments_assign(course=course, by=None, due_on=due, role=Role.RELATIONSHIP_MANAGER,
                                      limit_branch_id=branch.pk) == 0
    assert set(Enrolment.objects.values_list("user_id", flat=True)) == {rm1.pk, rm2.pk}


def test_enrol_by_branch_and_person(branch):
    course, _m, _b = course_with_bank()
    other = BranchFactory(code="ZZ9999")
    people = [UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=other) for _ in range(3)]
    due = timezone.localdate() + timedelta(days=10)
    assert services.enrolments_assign(course=course, by=None, due_on=due, branch=other) == 3
    person = UserFactory(roles=[Role.COMPLAINT_DESK], branch=branch)
    assert services.enrolments_assign(course=course, by=None, due_on=due, user=person) == 1
    assert Enrolment.objects.get(user=person).source == "person"
    assert Enrolment.objects.filter(user__in=people, source="branch").count() == 3


def test_enrol_refuses_past_due_dates_and_two_targets(branch, learner):
    course, _m, _b = course_with_bank()
    with pytest.raises(ApplicationError):
        services.enrolments_assign(course=course, by=None, due_on=timezone.localdate() - timedelta(days=1),
                                   user=learner)
    with pytest.raises(ApplicationError):
        services.enrolments_assign(course=course, by=None, due_on=timezone.localdate(), user=learner,
                                   branch=branch)
    assert not Enrolment.objects.exists()


def test_html_sanitize_keeps_formatting_and_drops_scripts_and_handlers():
    raw = ('<p onclick="steal()">Hi <strong>there</strong><script>alert(1)</script></p>'
           '<a href="javascript:alert(1)">x</a><a href="https://bank.example/">ok</a><img src=x onerror=y>')
    clean = content.html_sanitize(raw)
    assert "<script" not in clean and "onclick" not in clean and "javascript:" not in clean
    assert "<img" not in clean and "onerror" not in clean
    assert "<strong>there</strong>" in clean
    assert 'href="https://bank.example/"' in clean and 'rel="noopener noreferrer nofollow"' in clean


def test_module_save_sanitises_and_checks_the_file_by_its_bytes():
    module = CourseModuleFactory.build(course=course_with_bank()[0], body="<p>a</p><script>x</script>")
    fake_pdf = SimpleUploadedFile("evil.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    with pytest.raises(ApplicationError):
        services.course_module_save(module=module, upload=fake_pdf)
    real = SimpleUploadedFile("guide.pdf", b"%PDF-1.7\n...", content_type="text/html")
    saved = services.course_module_save(module=module, upload=real)
    assert saved.body == "<p>a</p>" and saved.attachment_content_type == "application/pdf"
    assert saved.attachment_name == "guide.pdf" and saved.attachment_size_bytes == 12


def test_upload_over_the_limit_is_refused():
    big = SimpleUploadedFile("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * content.MAX_UPLOAD_BYTES,
                             content_type="image/png")
    with pytest.raises(ApplicationError):
        content.upload_check(big)


def test_starter_catalogue_is_seeded_in_both_languages():
    courses = Course.objects.filter(code__in=["crm-system-operation", "service-complaint-handling",
                                              "crm-customer-knowledge", "data-analysis-basics"])
    assert courses.count() == 4
    assert {c.area for c in Course.objects.all()} >= {"system_operation", "crm_knowledge", "service_skills",
                                                       "data_analysis"}
    for course in courses:
        assert course.title_zh and course.modules.exists() and course.questions.exists()
        assert all(m.body_zh for m in course.modules.all())
        for q in course.questions.all():
            assert q.choices.filter(is_correct=True).exists()


def test_overdue_reminders_land_in_the_inbox_once_a_day(learner):
    """Given one overdue and one on-time enrolment; when the reminder job runs twice the same day and once
    the next day; then the overdue learner has two messages (one a day) in their inbox."""
    from core import notifications
    from core.models import Notification

    course, _m, _b = course_with_bank(code="overdue-course")
    overdue = EnrolmentFactory(course=course, user=learner, due_on=timezone.localdate() - timedelta(days=2))
    on_time = course_with_bank()[0]
    EnrolmentFactory(course=on_time, user=learner)
    today = timezone.localdate()
    assert services.overdue_reminders_send(today=today) == 1
    assert services.overdue_reminders_send(today=today) == 0
    assert services.overdue_reminders_send(today=today + timedelta(days=1)) == 1
    inbox = Notification.objects.filter(recipient=learner)
    assert inbox.count() == 2
    course.title, course.title_zh = "Using the CRM", "CRM 系统操作"
    course.save()
    services.overdue_reminders_send(today=today + timedelta(days=3))  # the title in both languages, read later
    newest = inbox.order_by("-pk").first()
    with translation.override("en"):
        text = notifications.notification_text(newest)
        assert "Using the CRM" in text and overdue.due_on.isoformat() in text
    with translation.override("zh-hans"):
        assert "CRM 系统操作" in notifications.notification_text(newest)
    overdue.completed_at = timezone.now()
    overdue.save()
    assert services.overdue_reminders_send(today=today + timedelta(days=4)) == 0
