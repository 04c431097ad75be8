"""Admin for complaints: the category tree and SLA policy versions are edited here; complaints are
read-only (their status moves only through the services, STYLE §4)."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from complaints.models import (
    Complaint,
    ComplaintCategory,
    ComplaintEvent,
    ComplaintNotification,
    SlaPolicy,
    SlaRule,
)


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


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    """Versions are immutable once saved: a change is a new version (add one), never an edit."""

    list_display = ("version", "effective_from", "first_response_minutes", "resolution_minutes", "warning_pct",
                    "critical_pct", "reopen_window_days", "created_at")
    inlines = [SlaRuleInline]
    exclude = ("version", "created_by")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request) -> dict:
        latest = SlaPolicy.objects.order_by("-version").first()
        initial = {"effective_from": timezone.now()}
        if latest is not None:
            initial |= {field: getattr(latest, field) for field in (
                "first_response_minutes", "resolution_minutes", "warning_pct", "critical_pct", "reopen_window_days")}
        return initial

    @transaction.atomic
    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.version = (SlaPolicy.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0) + 1
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


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

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Complaint._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ComplaintNotification)
class ComplaintNotificationAdmin(admin.ModelAdmin):
    list_display = ("created_at", "recipient", "complaint", "delivered_at", "read_at")
    list_select_related = ("recipient", "complaint")
    readonly_fields = ("complaint", "event", "recipient", "created_at", "delivered_at", "read_at")

    def has_add_permission(self, request) -> bool:
        return False
