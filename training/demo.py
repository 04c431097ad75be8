"""Demo data for the training chapter: the demo staff enrolled in the starter catalogue, one course
finished with both tests (so the pages show a knowledge gain) and one overdue (so the inbox shows a
reminder). Idempotent: enrolments already there are kept."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from training import services
from training.models import AssessmentStage, Course, Enrolment


def _answers(course: Course, *, right: int) -> dict[int, list[int]]:
    """The first ``right`` questions answered correctly, the rest left blank."""
    answers = {}
    for index, question in enumerate(course.questions.filter(is_active=True).prefetch_related("choices")):
        if index < right:
            answers[question.pk] = [choice.pk for choice in question.choices.all() if choice.is_correct]
    return answers


@transaction.atomic
def demo_seed_training(*, as_of: date) -> dict:
    staff = User.objects.filter(is_active=True, groups__name__in=[Role.RELATIONSHIP_MANAGER, Role.BRANCH_MANAGER,
                                                                   Role.COMPLAINT_DESK]).distinct()
    finished = Course.objects.filter(code="service-complaint-handling").first()
    overdue = Course.objects.filter(code="crm-system-operation").first()
    if finished is None or overdue is None:
        return {"enrolments": 0}
    created = 0
    for user in staff.order_by("username")[:50]:
        enrolment, new = Enrolment.objects.get_or_create(
            course=finished, user=user, defaults={"branch_id": user.branch_id, "source": "role",
                                                  "due_on": as_of + timedelta(days=14), "enrolled_at": timezone.now()})
        created += new
        if new and user.username in ("rm1", "rm2"):
            services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.PRE, answers=_answers(finished, right=1))
            for module in finished.modules.all():
                services.module_complete(enrolment=enrolment, module=module)
            services.attempt_submit(enrolment=enrolment, stage=AssessmentStage.POST,
                                    answers=_answers(finished, right=3))
        _late, new = Enrolment.objects.get_or_create(
            course=overdue, user=user, defaults={"branch_id": user.branch_id, "source": "branch",
                                                 "due_on": as_of - timedelta(days=3), "enrolled_at": timezone.now()})
        created += new
    reminders = services.overdue_reminders_send(today=as_of)
    return {"enrolments": created, "reminders": reminders}
