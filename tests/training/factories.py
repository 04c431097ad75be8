"""Hand-made courses with known answers."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from training.models import (
    Audience,
    Choice,
    ContentArea,
    Course,
    CourseModule,
    Enrolment,
    EnrolmentSource,
    Question,
    QuestionKind,
    TrainingMode,
)


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    code = factory.Sequence(lambda n: f"test-course-{n}")
    title = factory.Sequence(lambda n: f"Test course {n}")
    title_zh = factory.Sequence(lambda n: f"测试课程 {n}")
    audience = Audience.FRONT_LINE
    area = ContentArea.SERVICE_SKILLS
    mode = TrainingMode.ONLINE
    pass_mark_pct = 60
    max_post_attempts = 2


class CourseModuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CourseModule

    course = factory.SubFactory(CourseFactory)
    position = factory.Sequence(lambda n: n)
    title = factory.Sequence(lambda n: f"Module {n}")
    body = "<p>Listen first.</p>"


def question(course: Course, kind: str, right: list[str], wrong: list[str], text: str = "Q?") -> Question:
    """A question whose choices are named by their text; ``right`` ones are correct."""
    q = Question.objects.create(course=course, kind=kind, text=text, position=Question.objects.count())
    for position, label in enumerate(right + wrong):
        Choice.objects.create(question=q, text=label, is_correct=label in right, position=position)
    return q


def choice_ids(q: Question, *labels: str) -> list[int]:
    return [c.pk for c in q.choices.filter(text__in=labels)]


def course_with_bank(**kwargs) -> tuple[Course, list[CourseModule], dict[str, Question]]:
    """Two modules and four questions: single (A right), multiple (A and B right), and two true / false."""
    course = CourseFactory(**kwargs)
    modules = [CourseModuleFactory(course=course, position=1), CourseModuleFactory(course=course, position=2)]
    bank = {
        "single": question(course, QuestionKind.SINGLE, ["A"], ["B", "C"], "single"),
        "multiple": question(course, QuestionKind.MULTIPLE, ["A", "B"], ["C"], "multiple"),
        "tf1": question(course, QuestionKind.TRUE_FALSE, ["True"], ["False"], "tf1"),
        "tf2": question(course, QuestionKind.TRUE_FALSE, ["False"], ["True"], "tf2"),
    }
    return course, modules, bank


class EnrolmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrolment

    course = factory.SubFactory(CourseFactory)
    user = None
    branch = factory.LazyAttribute(lambda o: o.user.branch)
    source = EnrolmentSource.PERSON
    due_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=14))
    enrolled_at = factory.LazyFunction(timezone.now)
