"""Admin for the evaluation app: KPI definitions (texts), target versions through the audited
service, snapshots and reports read-only."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from evaluation import services
from evaluation.models import KpiDefinition, KpiRefreshState, KpiSnapshot, KpiTarget, Report


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class KpiTargetInline(admin.TabularInline):
    model = KpiTarget
    extra = 0
    can_delete = False
    fields = ("version", "comparison", "value", "amber_margin_pct", "effective_from", "note", "created_by",
              "created_at")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(KpiDefinition)
class KpiDefinitionAdmin(admin.ModelAdmin):
    list_display = ("code", "label", "unit", "direction", "by_tier", "position", "is_active")
    list_filter = ("unit", "direction", "is_active")
    search_fields = ("code", "name")
    readonly_fields = ("code",)
    inlines = [KpiTargetInline]

    def has_add_permission(self, request) -> bool:
        return False  # a KPI needs its computation in evaluation/kpis.py: added by migration

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("name"))
    def label(self, obj: KpiDefinition) -> str:
        return obj.label


@admin.register(KpiTarget)
class KpiTargetAdmin(admin.ModelAdmin):
    """A target is never edited: saving the form adds the next version (kpi_target_set, audited)."""

    list_display = ("kpi", "version", "comparison", "value", "amber_margin_pct", "effective_from", "created_by",
                    "created_at")
    list_filter = ("kpi",)
    fields = ("kpi", "comparison", "value", "amber_margin_pct", "effective_from", "note")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj: KpiTarget, form, change) -> None:
        created = services.kpi_target_set(
            kpi=obj.kpi, comparison=obj.comparison, value=obj.value, effective_from=obj.effective_from,
            amber_margin_pct=obj.amber_margin_pct, note=obj.note, by=request.user)
        obj.pk, obj.version = created.pk, created.version


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("kpi", "period_kind", "period_start", "scope", "branch", "relationship_manager", "dimension",
                    "value", "rag", "data_as_of")
    list_filter = ("period_kind", "scope", "rag", "kpi")
    date_hierarchy = "period_start"
    list_select_related = ("kpi", "branch", "relationship_manager")


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ("kind", "period_start", "branch", "revision", "status", "progress_pct", "data_as_of",
                    "finished_at")
    list_filter = ("kind", "status")
    list_select_related = ("branch",)
    exclude = ("pdf", "xlsx")


@admin.register(KpiRefreshState)
class KpiRefreshStateAdmin(ReadOnlyAdmin):
    list_display = ("key", "refreshed_at")
