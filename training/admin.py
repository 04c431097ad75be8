"""Admin for training: the catalogue (courses, modules, question banks) is edited here; module
content is sanitised and files checked through the service; records are read-only."""

from __future__ import annotations

from django import forms
from django.contrib import admin

from core.errors import ApplicationError
from training import services
from training.models import (
    Attempt,
    Attendance,
    Choice,
    Course,
    CourseModule,
    Enrolment,
    ModuleProgress,
    Question,
    TrainingSession,
)


class CourseModuleInline(admin.StackedInline):
    model = CourseModule
    extra = 0
    fields = ("position", "title", "title_zh", "link_url")
    show_change_link = True


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "title_zh", "audience", "area", "mode", "pass_mark_pct", "is_active")
    list_filter = ("audience", "area", "mode", "is_active")
    search_fields = ("code", "title", "title_zh")
    inlines = [CourseModuleInline]


class CourseModuleAdminForm(forms.ModelForm):
    upload = forms.FileField(required=False, label="File (PDF, PNG or JPEG, 10 MB at most)")

    class Meta:
        model = CourseModule
        fields = ("course", "position", "title", "title_zh", "body", "body_zh", "link_url")

    def clean(self):
        data = super().clean()
        upload = data.get("upload")
        if upload is not None:
            try:
                services.content.upload_check(upload)
            except ApplicationError as error:
                self.add_error("upload", error.message)
        return data


@admin.register(CourseModule)
class CourseModuleAdmin(admin.ModelAdmin):
    form = CourseModuleAdminForm
    list_display = ("course", "position", "title", "attachment_name")
    list_filter = ("course",)
    search_fields = ("title", "title_zh")
    readonly_fields = ("attachment_name", "attachment_content_type", "attachment_size_bytes")

    def save_model(self, request, obj, form, change):
        services.course_module_save(module=obj, upload=form.cleaned_data.get("upload"))


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 2
    fields = ("position", "text", "text_zh", "is_correct")


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("course", "position", "kind", "text", "is_active")
    list_filter = ("course", "kind", "is_active")
    search_fields = ("text", "text_zh")
    inlines = [ChoiceInline]


@admin.register(Choice)
class ChoiceAdmin(admin.ModelAdmin):
    list_display = ("question", "text", "is_correct")
    search_fields = ("text", "text_zh")
    list_select_related = ("question",)


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by learners and services: viewed here, never edited."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Enrolment)
class EnrolmentAdmin(_ReadOnlyAdmin):
    list_display = ("user", "course", "branch", "source", "due_on", "completed_at")
    list_filter = ("course", "branch", "source")
    search_fields = ("user__username", "course__code")
    list_select_related = ("user", "course", "branch")
    date_hierarchy = "due_on"


@admin.register(ModuleProgress)
class ModuleProgressAdmin(_ReadOnlyAdmin):
    list_display = ("enrolment", "module", "completed_at")
    list_select_related = ("enrolment", "module")


@admin.register(Attempt)
class AttemptAdmin(_ReadOnlyAdmin):
    list_display = ("enrolment", "stage", "number", "score_pct", "passed", "submitted_at")
    list_filter = ("stage", "passed")
    list_select_related = ("enrolment",)


class AttendanceInline(admin.TabularInline):
    model = Attendance
    extra = 0
    fields = ("user", "attended", "instructor_score", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(TrainingSession)
class TrainingSessionAdmin(admin.ModelAdmin):
    list_display = ("course", "kind", "starts_at", "branch", "instructor", "location")
    list_filter = ("kind", "branch")
    list_select_related = ("course", "branch", "instructor")
    inlines = [AttendanceInline]


@admin.register(Attendance)
class AttendanceAdmin(_ReadOnlyAdmin):
    list_display = ("session", "user", "attended", "instructor_score", "recorded_at")
    list_filter = ("attended",)
    list_select_related = ("session", "user")
