"""Admin for continuous improvement: scorecard policy versions are added here (never edited: cards
carry the version that scored them); the rest is read here and changed through the pages' services."""

from __future__ import annotations

from django.contrib import admin

from improvement.models import (
    CustomerFeedbackReward,
    Initiative,
    InitiativeEvent,
    InitiativePhaseNote,
    Scorecard,
    ScorecardPolicy,
    StaffReward,
    Suggestion,
)


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PhaseNoteInline(admin.TabularInline):
    model = InitiativePhaseNote
    extra = 0
    fields = ("cycle", "phase", "starts_on", "ends_on", "notes")


@admin.register(Initiative)
class InitiativeAdmin(admin.ModelAdmin):
    list_display = ("title", "branch", "owner", "kpi_code", "phase", "baseline_value", "target_value",
                    "measured_value", "verdict")
    list_filter = ("phase", "verdict", "branch", "kpi_code")
    search_fields = ("title", "problem")
    list_select_related = ("branch", "owner")
    inlines = [PhaseNoteInline]
    # Phase, verdict and measured value move only through services.initiative_advance (STYLE §4).
    readonly_fields = ("phase", "cycle", "measured_value", "verdict", "closed_at", "created_at", "created_by",
                       "baseline_value", "baseline_period_start", "check_period_start", "kpi_code",
                       "kpi_period_kind", "direction", "suggestion")

    def has_add_permission(self, request):
        return False


@admin.register(InitiativePhaseNote)
class InitiativePhaseNoteAdmin(admin.ModelAdmin):
    list_display = ("initiative", "cycle", "phase", "starts_on", "ends_on")
    list_filter = ("phase",)
    list_select_related = ("initiative",)


@admin.register(InitiativeEvent)
class InitiativeEventAdmin(_ReadOnlyAdmin):
    list_display = ("initiative", "from_phase", "to_phase", "measured_value", "by", "occurred_at")
    list_select_related = ("initiative", "by")


@admin.register(Suggestion)
class SuggestionAdmin(_ReadOnlyAdmin):
    list_display = ("title", "submitted_by", "branch", "status", "reward_points", "submitted_at")
    list_filter = ("status", "branch")
    search_fields = ("title", "body")
    list_select_related = ("submitted_by", "branch")


@admin.register(StaffReward)
class StaffRewardAdmin(_ReadOnlyAdmin):
    list_display = ("user", "suggestion", "initiative", "reason", "points", "awarded_at")
    list_filter = ("reason",)
    list_select_related = ("user", "suggestion", "initiative")


@admin.register(CustomerFeedbackReward)
class CustomerFeedbackRewardAdmin(_ReadOnlyAdmin):
    list_display = ("customer", "survey_response", "kind", "points", "granted_by", "granted_at")
    list_filter = ("kind",)
    list_select_related = ("customer", "granted_by")


@admin.register(ScorecardPolicy)
class ScorecardPolicyAdmin(admin.ModelAdmin):
    list_display = ("version", "effective_from", "weight_satisfaction", "weight_retention", "weight_clv_growth",
                    "weight_complaints", "weight_sla", "weight_training")
    readonly_fields = ("created_at", "created_by")

    def has_change_permission(self, request, obj=None):
        return obj is None  # a version is immutable once saved: add a new one instead

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Scorecard)
class ScorecardAdmin(_ReadOnlyAdmin):
    list_display = ("relationship_manager", "branch", "period_kind", "period_start", "score", "rank_in_branch",
                    "policy")
    list_filter = ("period_kind", "period_start", "branch")
    list_select_related = ("relationship_manager", "branch", "policy")
