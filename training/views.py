"""Training pages (MANUAL Ch. 5): parse → authorize → one call → render (STYLE §6)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View

from accounts import permissions as roles
from accounts.models import Branch, User
from core.errors import ApplicationError
from core.forms import form_add_application_error
from training import permissions, selectors, services
from training.forms import (
    AttendanceForm,
    CatalogueFilterForm,
    EnrolmentAssignForm,
    KpiFilterForm,
    SessionCreateForm,
    TestForm,
    quarter_bounds,
    quarter_of,
)
from training.models import AssessmentStage, Attempt, Course, TrainingSession, knowledge_gain

RECORDS_MAX = 200


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _course_or_404(course_id: int) -> Course:
    try:
        return selectors.course_get(course_id=course_id)
    except Course.DoesNotExist as error:
        raise Http404 from error


def _enrolment_or_404(user, course_id: int):
    enrolment = selectors.enrolment_get_for_learner(user=user, course_id=course_id)
    if enrolment is None:
        raise Http404
    return enrolment


def _staff_for(user):
    staff = User.objects.filter(is_active=True).order_by("username")
    return staff if roles.is_admin(user) else staff.filter(branch_id=user.branch_id)


def _branches_for(user):
    branches = Branch.objects.all()
    return branches if roles.is_admin(user) else branches.filter(pk=user.branch_id)


class MyTrainingView(LoginRequiredMixin, View):
    """The learner's courses with progress and due dates, and the catalogue to sign up from."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_learn(user))
        form = CatalogueFilterForm(request.GET)
        filters = form.cleaned_data if form.is_valid() else {}
        enrolments = list(selectors.enrolment_list_for_learner(user=user))
        today = timezone.localdate()
        for enrolment in enrolments:
            enrolment.overdue = enrolment.is_overdue_on(today)
            enrolment.gain, enrolment.normalised_gain = knowledge_gain(enrolment.pre_score, enrolment.post_score)
        return render(request, "training/my_training.html", {
            "enrolments": enrolments,
            "courses": selectors.course_list(**filters),
            "enrolled_ids": {enrolment.course_id for enrolment in enrolments},
            "form": form,
            "can_view_records": permissions.can_view_training_records(user),
            "can_assign": permissions.can_assign_training(user),
        })


class CourseDetailView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, course_id: int) -> HttpResponse:
        _require(permissions.can_learn(request.user))
        course = _course_or_404(course_id)
        enrolment = selectors.enrolment_get_for_learner(user=request.user, course_id=course.pk)
        context = {"course": course, "enrolment": enrolment, "modules": list(course.modules.all())}
        if enrolment is not None:
            done = set(enrolment.module_progress.values_list("module_id", flat=True))
            for module in context["modules"]:
                module.done = module.pk in done
            gain, normalised = knowledge_gain(enrolment.pre_score, enrolment.post_score)
            context.update({
                "gain": gain, "normalised_gain": normalised,
                "pre_refusal": services.sitting_refusal(enrolment=enrolment, stage=AssessmentStage.PRE),
                "post_refusal": services.sitting_refusal(enrolment=enrolment, stage=AssessmentStage.POST),
                "post_attempts_left": services.attempts_left(enrolment=enrolment, stage=AssessmentStage.POST),
                "attempts": list(enrolment.attempts.order_by("submitted_at")),
                "overdue": enrolment.is_overdue_on(timezone.localdate()),
            })
        context["sessions"] = [s for s in selectors.session_list_visible_to(user=request.user).filter(
            course=course, ends_at__gte=timezone.now())]
        return render(request, "training/course_detail.html", context)

    def post(self, request: HttpRequest, course_id: int) -> HttpResponse:
        """Sign up for the course oneself."""
        _require(permissions.can_learn(request.user))
        course = _course_or_404(course_id)
        try:
            services.enrolment_self_enrol(course=course, user=request.user)
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("You are enrolled."))
        return redirect("training:course-detail", course_id=course.pk)


class ModuleView(LoginRequiredMixin, View):
    def _load(self, request, course_id: int, module_id: int):
        _require(permissions.can_learn(request.user))
        course = _course_or_404(course_id)
        enrolment = _enrolment_or_404(request.user, course.pk)
        module = course.modules.filter(pk=module_id).first()
        if module is None:
            raise Http404
        return course, enrolment, module

    def get(self, request: HttpRequest, course_id: int, module_id: int) -> HttpResponse:
        course, enrolment, module = self._load(request, course_id, module_id)
        modules = list(course.modules.all())
        index = modules.index(module)
        return render(request, "training/module_detail.html", {
            "course": course, "module": module, "enrolment": enrolment,
            "done": enrolment.module_progress.filter(module=module).exists(),
            "next_module": modules[index + 1] if index + 1 < len(modules) else None,
        })

    def post(self, request: HttpRequest, course_id: int, module_id: int) -> HttpResponse:
        course, enrolment, module = self._load(request, course_id, module_id)
        services.module_complete(enrolment=enrolment, module=module)
        messages.success(request, _("Module marked as done."))
        return redirect("training:course-detail", course_id=course.pk)


class ModuleFileView(LoginRequiredMixin, View):
    """The module's file, always as a download (never rendered inline by the browser)."""

    def get(self, request: HttpRequest, course_id: int, module_id: int) -> HttpResponse:
        _require(permissions.can_learn(request.user))
        course = _course_or_404(course_id)
        module = course.modules.filter(pk=module_id).first()
        if module is None or not module.attachment:
            raise Http404
        response = FileResponse(module.attachment.open("rb"), as_attachment=True,
                                filename=module.attachment_name or "file",
                                content_type=module.attachment_content_type or "application/octet-stream")
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response


class TestView(LoginRequiredMixin, View):
    """Sit the pre- or post-test. The page never carries which answers are right."""

    def _load(self, request, course_id: int, stage: str):
        _require(permissions.can_learn(request.user))
        if stage not in AssessmentStage.values:
            raise Http404
        course = _course_or_404(course_id)
        return course, _enrolment_or_404(request.user, course.pk)

    def _render(self, request, course, enrolment, stage, form, questions) -> HttpResponse:
        response = render(request, "training/test_form.html", {
            "course": course, "enrolment": enrolment, "stage": AssessmentStage(stage), "form": form,
            "refusal": services.sitting_refusal(enrolment=enrolment, stage=stage), "question_count": len(questions),
        })
        add_never_cache_headers(response)
        return response

    def get(self, request: HttpRequest, course_id: int, stage: str) -> HttpResponse:
        course, enrolment = self._load(request, course_id, stage)
        questions = selectors.questions_for_test(course=course)
        return self._render(request, course, enrolment, stage, TestForm(questions=questions), questions)

    def post(self, request: HttpRequest, course_id: int, stage: str) -> HttpResponse:
        course, enrolment = self._load(request, course_id, stage)
        questions = selectors.questions_for_test(course=course)
        form = TestForm(request.POST, questions=questions)
        if form.is_valid():
            try:
                attempt = services.attempt_submit(enrolment=enrolment, stage=stage, answers=form.answers())
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                return redirect("training:attempt-detail", attempt_id=attempt.pk)
        return self._render(request, course, enrolment, stage, form, questions)


class AttemptDetailView(LoginRequiredMixin, View):
    """A submitted attempt: the score, right / wrong per question, and the right answers once the
    post-test is over (passed, or no attempt left)."""

    def get(self, request: HttpRequest, attempt_id: int) -> HttpResponse:
        _require(permissions.can_learn(request.user))
        try:
            attempt = selectors.attempt_get_for_learner(user=request.user, attempt_id=attempt_id)
        except Attempt.DoesNotExist as error:
            raise Http404 from error
        course = attempt.enrolment.course
        questions = selectors.questions_for_test(course=course)
        for question in questions:
            chosen = set(attempt.answers.get(str(question.pk), []))
            question.chosen_ids = chosen
            question.right = chosen and chosen == {c.pk for c in question.choice_list if c.is_correct}
        enrolment = selectors.enrolment_get_for_learner(user=request.user, course_id=course.pk)
        gain, normalised = knowledge_gain(enrolment.pre_score, enrolment.post_score)
        # The right answers stay hidden while a post-test sitting remains: the pre- and post-test ask
        # the same bank, so showing them earlier would hand out the post-test.
        reveal = services.attempts_left(enrolment=enrolment, stage=AssessmentStage.POST) == 0
        return render(request, "training/attempt_detail.html", {
            "attempt": attempt, "course": course, "questions": questions, "enrolment": enrolment,
            "gain": gain, "normalised_gain": normalised, "reveal": reveal,
        })


class EnrolmentManageView(LoginRequiredMixin, View):
    """Enrol staff by person, role or branch, and follow their records."""

    def _context(self, request, form) -> dict:
        user = request.user
        records = selectors.enrolment_list_visible_to(principal=user)
        show = request.GET.get("show", "")
        if show == "overdue":
            records = records.overdue(on=timezone.localdate())
        rows = list(records[:RECORDS_MAX])
        today = timezone.localdate()
        for row in rows:
            row.overdue = row.is_overdue_on(today)
            row.gain, row.normalised_gain = knowledge_gain(row.pre_score, row.post_score)
        return {"form": form, "records": rows, "show": show, "records_max": RECORDS_MAX,
                "can_assign": permissions.can_assign_training(user)}

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_training_records(user))
        form = None
        if permissions.can_assign_training(user):
            form = EnrolmentAssignForm(staff=_staff_for(user), branches=_branches_for(user))
        return render(request, "training/enrolment_manage.html", self._context(request, form))

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_assign_training(user))
        form = EnrolmentAssignForm(request.POST, staff=_staff_for(user), branches=_branches_for(user))
        if form.is_valid():
            data = form.cleaned_data
            target = data["target"]
            try:
                count = services.enrolments_assign(
                    course=data["course"], by=user, due_on=data["due_on"],
                    user=data["user"] if target == "person" else None,
                    role=data["role"] if target == "role" else None,
                    branch=data["branch"] if target == "branch" else None,
                    limit_branch_id=None if roles.is_admin(user) else user.branch_id,
                )
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("%(count)d people enrolled.") % {"count": count})
                return redirect("training:enrolment-manage")
        return render(request, "training/enrolment_manage.html", self._context(request, form), status=400)


class SessionListView(LoginRequiredMixin, View):
    def _render(self, request, form, status=200):
        return render(request, "training/session_list.html", {
            "sessions": selectors.session_list_visible_to(user=request.user)[:200], "form": form,
        }, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_learn(user))
        form = SessionCreateForm(staff=_staff_for(user)) if permissions.can_assign_training(user) else None
        return self._render(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_assign_training(user))
        form = SessionCreateForm(request.POST, staff=_staff_for(user))
        if form.is_valid():
            try:
                session = services.session_create(
                    branch=None if roles.is_admin(user) else user.branch, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("Session scheduled."))
                return redirect("training:session-detail", session_id=session.pk)
        return self._render(request, form, status=400)


class SessionDetailView(LoginRequiredMixin, View):
    """A session's learners, attendance and the instructor's scores."""

    def _load(self, request, session_id: int) -> TrainingSession:
        _require(permissions.can_learn(request.user))
        try:
            return selectors.session_get_visible_to(user=request.user, session_id=session_id)
        except TrainingSession.DoesNotExist as error:
            raise Http404 from error

    def get(self, request: HttpRequest, session_id: int) -> HttpResponse:
        session = self._load(request, session_id)
        can_record = permissions.can_record_attendance(request.user, session)
        attendance = {row.user_id: row for row in session.attendance.all()}
        learners = list(selectors.session_learners(session=session)) if can_record else []
        rows = [{"user": e.user, "attendance": attendance.get(e.user_id),
                 "form": AttendanceForm(prefix=f"u{e.user_id}", initial={
                     "user_id": e.user_id,
                     "attended": getattr(attendance.get(e.user_id), "attended", False),
                     "instructor_score": getattr(attendance.get(e.user_id), "instructor_score", None),
                     "note": getattr(attendance.get(e.user_id), "note", "")})}
                for e in learners]
        own = attendance.get(request.user.pk)
        return render(request, "training/session_detail.html", {
            "session": session, "rows": rows, "can_record": can_record, "own": own})

    def post(self, request: HttpRequest, session_id: int) -> HttpResponse:
        session = self._load(request, session_id)
        _require(permissions.can_record_attendance(request.user, session))
        learners = {e.user_id: e.user for e in selectors.session_learners(session=session)}
        saved = 0
        for user_id, learner in learners.items():
            form = AttendanceForm(request.POST, prefix=f"u{user_id}")
            if f"u{user_id}-user_id" not in request.POST:
                continue
            if not form.is_valid() or form.cleaned_data["user_id"] != user_id:
                messages.error(request, _("Check the scores: each is a whole number from 0 to 100."))
                continue
            data = form.cleaned_data
            try:
                services.attendance_record(session=session, user=learner, attended=data["attended"],
                                           instructor_score=data["instructor_score"], note=data["note"],
                                           by=request.user)
            except ApplicationError as error:
                messages.error(request, f"{learner.display_name}: {error.message}")
            else:
                saved += 1
        if saved:
            messages.success(request, _("Attendance saved for %(count)d people.") % {"count": saved})
        return redirect("training:session-detail", session_id=session.pk)


class TrainingKpiView(LoginRequiredMixin, View):
    """Training KPIs per course, branch or person, and system usage before vs after training."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_training_records(user))
        data = request.GET.copy()
        data.setdefault("group_by", "course")
        form = KpiFilterForm(data)
        form.is_valid()
        group_by = form.cleaned_data.get("group_by") or "course"
        quarter = form.cleaned_data.get("quarter", "") if not form.errors else ""
        bounds = quarter_bounds(quarter) if quarter else None
        rows = selectors.training_kpis(principal=user, group_by=group_by,
                                       due_from=bounds[0] if bounds else None, due_to=bounds[1] if bounds else None)
        usage = selectors.usage_before_after(principal=user, limit=100)
        return render(request, "training/kpis.html", {
            "form": form, "rows": rows, "usage": usage, "group_by": group_by, "quarter": quarter,
            "current_quarter": quarter_of(timezone.localdate()),
            "usage_weeks": selectors.USAGE_WINDOW_WEEKS,
        })
