"""Admin for the service chapter: touchpoints (their service standards) and feedback topics are
edited here (touchpoint changes go through services.touchpoint_* and are audited); records,
invitations, answers, messages and follow-ups are written by services and only read here.
Invitations never show their token (only its hash is stored), messages never their link.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.postgres.forms import SimpleArrayField
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from service import services
from service.models import (
    FeedbackTopic,
    FollowUpTask,
    OutboundMessage,
    ServicePolicy,
    ServiceRecord,
    SurveyInvitation,
    SurveyResponse,
    Touchpoint,
)


class AdminOnly(admin.ModelAdmin):
    """Visible to administrators only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.is_admin(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.is_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return permissions.is_admin(request.user)


class ReadOnly(AdminOnly):
    """Rows written by services: shown, never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class TouchpointForm(forms.ModelForm):
    sop_steps = SimpleArrayField(
        forms.CharField(max_length=200), delimiter="\n", required=False, label=_("SOP steps"),
        widget=forms.Textarea(attrs={"rows": 8}), help_text=_("One step per line, in order."),
    )
    sop_steps_zh = SimpleArrayField(
        forms.CharField(max_length=200), delimiter="\n", required=False, label=_("SOP steps (Chinese)"),
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("The same steps in Chinese, one per line, in the same order."),
    )

    class Meta:
        model = Touchpoint
        fields = ("code", "name", "name_zh", "sop_steps", "sop_steps_zh", "target_minutes", "owner_role", "is_active",
                  "position")

    def clean_sop_steps(self):
        return [step.strip() for step in self.cleaned_data["sop_steps"] if step.strip()]

    def clean_sop_steps_zh(self):
        return [step.strip() for step in self.cleaned_data["sop_steps_zh"] if step.strip()]


@admin.register(ServicePolicy)
class ServicePolicyAdmin(AdminOnly):
    """Add a version (never edit one): the newest applies to new invitations and follow-ups."""

    list_display = ("version", "survey_valid_days", "follow_up_due_working_days", "created_at", "created_by")
    fields = ("survey_valid_days", "follow_up_due_working_days")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: ServicePolicy, form, change: bool) -> None:
        policy = services.service_policy_create(
            by=request.user, survey_valid_days=obj.survey_valid_days,
            follow_up_due_working_days=obj.follow_up_due_working_days)
        obj.pk, obj.version, obj.created_at, obj.created_by = (
            policy.pk, policy.version, policy.created_at, policy.created_by)


@admin.register(Touchpoint)
class TouchpointAdmin(AdminOnly):
    """Service standards. No list_editable: every change goes through the change form and is audited."""

    form = TouchpointForm
    list_display = ("name", "name_zh", "code", "target_minutes", "owner_role", "is_active", "position")
    list_filter = ("is_active", "owner_role")
    actions = None  # no bulk edits around the audited service

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # records point at it; retire a touchpoint by unticking "in use"

    def save_model(self, request: HttpRequest, obj: Touchpoint, form: TouchpointForm, change: bool) -> None:
        values = {field: form.cleaned_data[field] for field in services.TOUCHPOINT_FIELDS}
        if change:
            changes = {field: values[field] for field in form.changed_data if field in values}
            saved = services.touchpoint_standard_update(touchpoint=obj, by=request.user, changes=changes)
        else:
            saved = services.touchpoint_create(by=request.user, **values)
        # The admin logs and redirects with ``obj``: let it point at the stored row.
        obj.pk = saved.pk
        obj._state.adding = False


class FeedbackTopicForm(forms.ModelForm):
    keywords = SimpleArrayField(
        forms.CharField(max_length=50), delimiter="\n", required=False, label=_("keywords"),
        widget=forms.Textarea(attrs={"rows": 6}), help_text=_("One keyword per line; matched case-insensitively."),
    )

    class Meta:
        model = FeedbackTopic
        fields = ("code", "name", "name_zh", "keywords", "is_active")

    def clean_keywords(self):
        return [keyword.strip() for keyword in self.cleaned_data["keywords"] if keyword.strip()]


@admin.register(FeedbackTopic)
class FeedbackTopicAdmin(AdminOnly):
    form = FeedbackTopicForm
    list_display = ("name", "name_zh", "code", "is_active")
    list_filter = ("is_active",)


@admin.register(ServiceRecord)
class ServiceRecordAdmin(ReadOnly):
    list_display = ("id", "customer", "touchpoint", "branch", "staff", "started_at", "handling_seconds",
                    "target_minutes", "outcome")
    list_filter = ("touchpoint", "outcome", "branch")
    list_select_related = ("customer", "touchpoint", "branch", "staff")
    search_fields = ("=customer__external_id", "=external_ref")
    search_help_text = _("Exact customer number or external reference.")
    show_full_result_count = False
    ordering = ("-id",)


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(ReadOnly):
    list_display = ("id", "customer", "trigger", "reference", "created_at", "expires_at")
    list_filter = ("trigger",)
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id", "=reference")
    exclude = ("token_hash",)
    ordering = ("-id",)


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnly):
    """The SMS stub's outbox: what would have been sent, to whom (masked), and whether it went."""

    list_display = ("id", "channel", "recipient_masked", "status", "created_at", "sent_at", "failure_reason")
    list_filter = ("status", "channel")
    search_fields = ("=customer__external_id",)
    # ``body`` shows a survey link as [link]; ``link`` (the real one, encrypted) is never listed.
    fields = ("customer", "invitation", "channel", "recipient_masked", "body", "status", "failure_reason",
              "created_at", "sent_at")
    readonly_fields = fields
    ordering = ("-id",)


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnly):
    list_display = ("id", "customer", "csat", "nps", "score_service", "score_product", "score_ease", "submitted_at")
    list_filter = ("csat", "topics")
    list_select_related = ("customer",)
    search_fields = ("=customer__external_id",)
    ordering = ("-id",)


@admin.register(FollowUpTask)
class FollowUpTaskAdmin(ReadOnly):
    list_display = ("id", "customer", "assigned_to", "status", "due_on", "finished_at")
    list_filter = ("status",)
    list_select_related = ("customer", "assigned_to")
    search_fields = ("=customer__external_id",)
    ordering = ("-id",)
