"""Admin for complaints: the category tree and SLA policy versions are edited here; complaints are
read-only (their status moves only through the services, STYLE §4)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from complaints import services
from complaints.models import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    SlaPolicy,
    SlaRule,
)
from core.admin import pii_safe_field_names
from core.errors import ApplicationError

SLA_POLICY_FIELDS = ("effective_from", "first_response_minutes", "resolution_minutes", "warning_pct", "critical_pct",
                     "reopen_window_days")


@admin.register(ComplaintCategory)
class ComplaintCategoryAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_zh", "parent", "sort_order", "is_active")
    list_filter = ("is_active", "parent")
    search_fields = ("code", "name", "name_zh")
    ordering = ("sort_order", "code")
    list_select_related = ("parent",)


class SlaRuleInline(admin.TabularInline):
    model = SlaRule
    extra = 1
    fields = ("category", "severity", "first_response_minutes", "resolution_minutes")


class SlaPolicyAdminForm(forms.ModelForm):
    """Shape only; the rule on effective_from is the service's, shown here as a field error."""

    class Meta:
        model = SlaPolicy
        fields = SLA_POLICY_FIELDS

    def clean_effective_from(self):
        effective_from = self.cleaned_data["effective_from"]
        self.checked_at = timezone.now()  # save_model checks against the same instant (no race into a 500)
        try:
            services.sla_policy_effective_from_check(effective_from=effective_from, now=self.checked_at)
        except ApplicationError as error:
            raise forms.ValidationError(error.message) from error
        return effective_from


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Versions are immutable once saved: a change is a new version (add one), never an edit.

    A new version is written by services.sla_policy_version_create (numbered, audited, never
    effective in the past); its rules are saved by the inline after it, in the same transaction.
    """

    form = SlaPolicyAdminForm
    list_display = ("version", "effective_from", "first_response_minutes", "resolution_minutes", "warning_pct",
                    "critical_pct", "reopen_window_days", "created_at")
    inlines = [SlaRuleInline]
    fields = SLA_POLICY_FIELDS

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request) -> dict:
        latest = SlaPolicy.objects.order_by("-version").first()
        # From the next full hour: "now" would be in the past by the time the form is sent.
        next_hour = (timezone.localtime() + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        initial = {"effective_from": next_hour}
        if latest is not None:
            initial |= {field: getattr(latest, field) for field in (
                "first_response_minutes", "resolution_minutes", "warning_pct", "critical_pct", "reopen_window_days")}
        return initial

    def save_model(self, request, obj, form, change) -> None:
        # Only adds reach here (versions are never changed). The inline formsets were built on
        # ``obj``, so it takes on the row the service wrote.
        created = services.sla_policy_version_create(
            by=request.user, now=form.checked_at, **{field: form.cleaned_data[field] for field in SLA_POLICY_FIELDS})
        obj.pk, obj.version, obj.created_by, obj.created_at = (created.pk, created.version, created.created_by,
                                                               created.created_at)
        obj._state.adding = False
        obj._state.db = created._state.db


class ComplaintEventInline(admin.TabularInline):
    model = ComplaintEvent
    extra = 0
    can_delete = False
    fields = ("occurred_at", "kind", "from_status", "to_status", "actor_label", "customer_visible", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Complaint)
class ComplaintAdmin(admin.ModelAdmin):
    list_display = ("reference", "branch", "category", "channel", "severity", "status", "received_at",
                    "resolution_due_at")
    list_filter = ("status", "channel", "severity", "branch")
    search_fields = ("reference",)  # never identifiers: a GET would put them in URLs
    list_select_related = ("branch", "category", "category__parent")
    raw_id_fields = ("customer", "product")
    inlines = [ComplaintEventInline]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        # PII masked as on staff pages (issue 16): the contact phone only as masked_contact_phone.
        fields = pii_safe_field_names(Complaint)
        return [*fields[:fields.index("contact_name") + 1], "masked_contact_phone",
                *fields[fields.index("contact_name") + 1:]]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description=_("contact phone"))
    def masked_contact_phone(self, obj: Complaint) -> str:
        return obj.masked_contact_phone

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
