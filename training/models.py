"""Staff training (MANUAL Ch. 5): courses by audience, modules, enrolments with progress, pre/post
tests graded from a question bank, classroom sessions and drills with attendance and scores.

Course content carries English and Chinese text side by side (``title`` / ``title_zh``): the
starter catalogue is seeded in both, and a bank's own courses may be written in one only (the
other falls back to it). Module bodies are stored already sanitised (``training.content``).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.i18n import text_in_ui_language


def _localized(english: str, chinese: str) -> str:
    return text_in_ui_language(en=english, zh=chinese)


class Audience(models.TextChoices):
    FRONT_LINE = "front_line", _("front-line relationship managers")
    BACK_OFFICE = "back_office", _("back office")
    ALL_STAFF = "all_staff", _("all staff")


class ContentArea(models.TextChoices):
    """The manual's content areas (Ch. 5)."""

    SYSTEM_OPERATION = "system_operation", _("system operation")
    CRM_KNOWLEDGE = "crm_knowledge", _("CRM knowledge")
    SERVICE_SKILLS = "service_skills", _("service skills")
    DATA_ANALYSIS = "data_analysis", _("data analysis")


class TrainingMode(models.TextChoices):
    ONLINE = "online", _("online")
    CLASSROOM = "classroom", _("classroom")
    DRILL = "drill", _("drill")


class Course(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    title = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    summary = models.TextField(_("summary (English)"), blank=True)
    summary_zh = models.TextField(_("summary (Chinese)"), blank=True)
    audience = models.CharField(_("audience"), max_length=20, choices=Audience.choices)
    area = models.CharField(_("content area"), max_length=20, choices=ContentArea.choices)
    mode = models.CharField(_("mode"), max_length=12, choices=TrainingMode.choices, default=TrainingMode.ONLINE)
    # The course's own exam rules: data a training officer sets per course, not code.
    pass_mark_pct = models.PositiveSmallIntegerField(
        _("pass mark (%)"), default=60, validators=[MinValueValidator(1), MaxValueValidator(100)])
    max_post_attempts = models.PositiveSmallIntegerField(
        _("post-test attempts allowed"), default=3, validators=[MinValueValidator(1), MaxValueValidator(10)])
    is_active = models.BooleanField(_("offered"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("training course")
        verbose_name_plural = _("training courses")
        ordering = ["area", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(pass_mark_pct__gte=1, pass_mark_pct__lte=100),
                                   name="course_pass_mark_range"),
            models.CheckConstraint(condition=Q(max_post_attempts__gte=1), name="course_attempts_positive"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localized(self.title, self.title_zh)

    @property
    def summary_label(self) -> str:
        return _localized(self.summary, self.summary_zh)


class CourseModule(models.Model):
    """One unit of a course: sanitised rich text, an optional link and an optional file."""

    course = models.ForeignKey("training.Course", verbose_name=_("course"), on_delete=models.CASCADE,
                               related_name="modules")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    title = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200, blank=True)
    body = models.TextField(_("content (English)"), blank=True,
                            help_text=_("Formatted text; scripts, styles and unknown tags are removed."))
    body_zh = models.TextField(_("content (Chinese)"), blank=True)
    link_url = models.URLField(_("link"), blank=True)
    attachment = models.FileField(_("file"), upload_to="training/%Y/%m/", blank=True)
    attachment_name = models.CharField(_("file name"), max_length=200, blank=True)
    attachment_content_type = models.CharField(_("content type"), max_length=100, blank=True)
    attachment_size_bytes = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)

    class Meta:
        verbose_name = _("course module")
        verbose_name_plural = _("course modules")
        ordering = ["course", "position", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localized(self.title, self.title_zh)

    @property
    def body_label(self) -> str:
        return _localized(self.body, self.body_zh)


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("single choice")
    MULTIPLE = "multiple", _("multiple choice")
    TRUE_FALSE = "true_false", _("true / false")


class Question(models.Model):
    """A question in a course's bank; the pre-test and the post-test both ask every active one."""

    course = models.ForeignKey("training.Course", verbose_name=_("course"), on_delete=models.CASCADE,
                               related_name="questions")
    kind = models.CharField(_("kind"), max_length=12, choices=QuestionKind.choices)
    text = models.CharField(_("question (English)"), max_length=500)
    text_zh = models.CharField(_("question (Chinese)"), max_length=500, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    is_active = models.BooleanField(_("in use"), default=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["course", "position", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localized(self.text, self.text_zh)


class Choice(models.Model):
    question = models.ForeignKey("training.Question", verbose_name=_("question"), on_delete=models.CASCADE,
                                 related_name="choices")
    text = models.CharField(_("answer (English)"), max_length=300)
    text_zh = models.CharField(_("answer (Chinese)"), max_length=300, blank=True)
    is_correct = models.BooleanField(_("correct"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("answer choice")
        verbose_name_plural = _("answer choices")
        ordering = ["question", "position", "id"]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _localized(self.text, self.text_zh)


class EnrolmentSource(models.TextChoices):
    PERSON = "person", _("named person")
    ROLE = "role", _("role")
    BRANCH = "branch", _("branch")


class EnrolmentQuerySet(models.QuerySet):
    def overdue(self, *, on) -> EnrolmentQuerySet:
        return self.filter(completed_at__isnull=True, due_on__lt=on)


class Enrolment(models.Model):
    course = models.ForeignKey("training.Course", verbose_name=_("course"), on_delete=models.PROTECT,
                               related_name="enrolments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                             related_name="training_enrolments")
    # The learner's branch when enrolled: branch KPIs group on it without a join.
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="training_enrolments")
    source = models.CharField(_("enrolled by"), max_length=10, choices=EnrolmentSource.choices)
    due_on = models.DateField(_("due"))
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    enrolled_at = models.DateTimeField(_("enrolled at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    objects = EnrolmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("enrolment")
        verbose_name_plural = _("enrolments")
        ordering = ["due_on", "id"]
        constraints = [models.UniqueConstraint(fields=["course", "user"], name="enrolment_once_per_course")]
        indexes = [
            models.Index(fields=["user", "completed_at"], name="enrolment_user_idx"),
            models.Index(fields=["branch", "due_on"], name="enrolment_branch_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.course_id}"

    def is_overdue_on(self, day) -> bool:
        return self.completed_at is None and self.due_on < day


class ModuleProgress(models.Model):
    enrolment = models.ForeignKey("training.Enrolment", verbose_name=_("enrolment"), on_delete=models.CASCADE,
                                  related_name="module_progress")
    module = models.ForeignKey("training.CourseModule", verbose_name=_("module"), on_delete=models.CASCADE,
                               related_name="progress")
    completed_at = models.DateTimeField(_("completed at"))

    class Meta:
        verbose_name = _("module progress")
        verbose_name_plural = _("module progress")
        constraints = [models.UniqueConstraint(fields=["enrolment", "module"], name="module_progress_once")]

    def __str__(self) -> str:
        return f"{self.enrolment_id} {self.module_id}"


class AssessmentStage(models.TextChoices):
    PRE = "pre", _("pre-test")
    POST = "post", _("post-test")


class Attempt(models.Model):
    """One sitting of a pre- or post-test, graded on submission and never changed after."""

    enrolment = models.ForeignKey("training.Enrolment", verbose_name=_("enrolment"), on_delete=models.CASCADE,
                                  related_name="attempts")
    stage = models.CharField(_("test"), max_length=4, choices=AssessmentStage.choices)
    number = models.PositiveSmallIntegerField(_("attempt"))
    # {question id: [chosen choice ids]} as submitted.
    answers = models.JSONField(_("answers"), default=dict)
    question_count = models.PositiveSmallIntegerField(_("questions"))
    correct_count = models.PositiveSmallIntegerField(_("correct"))
    score_pct = models.DecimalField(_("score (%)"), max_digits=5, decimal_places=2)
    pass_mark_pct = models.PositiveSmallIntegerField(_("pass mark (%)"))  # the mark in force when graded
    passed = models.BooleanField(_("passed"))
    submitted_at = models.DateTimeField(_("submitted at"))

    class Meta:
        verbose_name = _("test attempt")
        verbose_name_plural = _("test attempts")
        ordering = ["enrolment", "stage", "number"]
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "stage", "number"], name="attempt_number_unique"),
            models.CheckConstraint(condition=Q(correct_count__lte=F("question_count")),
                                   name="attempt_correct_le_questions"),
            models.CheckConstraint(condition=Q(score_pct__gte=0, score_pct__lte=100), name="attempt_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id} {self.stage} #{self.number}"


def knowledge_gain(pre_pct: Decimal | None, post_pct: Decimal | None) -> tuple[Decimal | None, Decimal | None]:
    """(raw gain in points, normalised gain) from a pre- and post-test score in percent.

    Raw gain is post - pre. Normalised gain (Hake 1998) is (post - pre) / (100 - pre): the share
    of what there was left to learn that was learnt; it is undefined for someone who scored 100
    on the pre-test (None).
    """
    if pre_pct is None or post_pct is None:
        return None, None
    raw = Decimal(post_pct) - Decimal(pre_pct)
    room = Decimal(100) - Decimal(pre_pct)
    normalised = (raw / room).quantize(Decimal("0.001")) if room > 0 else None
    return raw, normalised


class SessionKind(models.TextChoices):
    CLASSROOM = "classroom", _("classroom")
    DRILL = "drill", _("drill")


class TrainingSession(models.Model):
    """A scheduled classroom session or drill of a course."""

    course = models.ForeignKey("training.Course", verbose_name=_("course"), on_delete=models.PROTECT,
                               related_name="sessions")
    kind = models.CharField(_("kind"), max_length=10, choices=SessionKind.choices)
    branch = models.ForeignKey("accounts.Branch", verbose_name=_("branch"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="training_sessions")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    location = models.CharField(_("location"), max_length=200, blank=True)
    instructor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("instructor"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="training_sessions_taught")

    class Meta:
        verbose_name = _("training session")
        verbose_name_plural = _("training sessions")
        ordering = ["-starts_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.course_id} {self.starts_at:%Y-%m-%d %H:%M}"


class Attendance(models.Model):
    session = models.ForeignKey("training.TrainingSession", verbose_name=_("session"), on_delete=models.CASCADE,
                                related_name="attendance")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("staff member"), on_delete=models.CASCADE,
                             related_name="training_attendance")
    attended = models.BooleanField(_("attended"), default=False)
    instructor_score = models.PositiveSmallIntegerField(
        _("instructor's score (0-100)"), null=True, blank=True, validators=[MaxValueValidator(100)])
    note = models.CharField(_("note"), max_length=500, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(_("recorded at"), null=True, blank=True)

    class Meta:
        verbose_name = _("attendance")
        verbose_name_plural = _("attendance")
        ordering = ["session", "user_id"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="attendance_once"),
            models.CheckConstraint(condition=Q(instructor_score__isnull=True) | Q(instructor_score__lte=100),
                                   name="attendance_score_range"),
        ]

    def __str__(self) -> str:
        return f"{self.session_id} {self.user_id}"

