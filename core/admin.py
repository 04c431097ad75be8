"""Read-only admin for the audit log, the task outbox, the task-execution ledger and notifications."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.dateformat import format as date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core import workdays
from core.errors import ApplicationError
from core.forms import form_add_application_error
from core.models import (
    ApiReadTally,
    AuditEvent,
    CalendarDay,
    Notification,
    OutboxMessage,
    SecurityEvent,
    TaskExecution,
)
from core.notifications import notification_text
from core.outbox import outbox_relay

# core is the bottom layer and may not import accounts.permissions, so these predicates check
# the role groups by name (accounts.models.Role values) the way is_admin and
# can_view_audit_log do there. tests/core/test_audit.py keeps the two in step.
ADMIN_GROUPS = ("admin",)
AUDIT_LOG_READER_GROUPS = ("admin", "compliance_auditor")


def pii_safe_field_names(model) -> list[str]:
    """The model's concrete fields an admin page may show: never an encrypted PII field or its blind index.

    Admin pages show PII masked, as staff pages do (issue 16, finding 3): list the fields from here and
    add a ``masked_<name>`` display for what the page needs to show.
    """
    from core.fields import BlindIndexField, EncryptedTextField

    return [field.name for field in model._meta.fields if not isinstance(field, (EncryptedTextField, BlindIndexField))]


def _has_role_group(user, group_names: tuple[str, ...]) -> bool:
    return (
        user.is_authenticated and user.is_active
        and (user.is_superuser or user.groups.filter(name__in=group_names).exists())
    )


class NoWritesAdminMixin:
    """Rows written by services only: admin may show them, never add, change or delete them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(NoWritesAdminMixin, admin.ModelAdmin):
    """Rows are written by services only; here they can be read, never added, changed or deleted."""

    reader_groups: tuple[str, ...] = ADMIN_GROUPS

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _has_role_group(request.user, self.reader_groups)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return _has_role_group(request.user, self.reader_groups)



@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    reader_groups = AUDIT_LOG_READER_GROUPS
    list_display = (
        "id", "occurred_at", "action", "actor_label", "target_type", "target_id", "ip_address", "request_id",
    )
    list_filter = ("action", "occurred_at")
    # Exact matches only: a substring search would scan the whole, ever-growing table.
    search_fields = ("=actor_label", "=target_id", "=request_id")
    search_help_text = _("Exact username, target id or request id.")
    ordering = ("-id",)
    show_full_result_count = False


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "task_name", "queue", "status", "created_at", "sent_at", "attempts", "last_error")
    list_filter = ("status", "queue")
    search_fields = ("task_name",)
    ordering = ("-id",)
    actions = ("relay_now",)

    def has_relay_permission(self, request: HttpRequest) -> bool:
        return _has_role_group(request.user, ADMIN_GROUPS)

    @admin.action(description=_("Relay the selected pending messages now"), permissions=["relay"])
    def relay_now(self, request: HttpRequest, queryset: QuerySet[OutboxMessage]) -> None:
        pending_ids = list(queryset.filter(status=OutboxMessage.Status.PENDING).values_list("pk", flat=True))
        if not pending_ids:
            self.message_user(request, _("None of the selected messages is pending."), messages.WARNING)
            return
        sent = outbox_relay(message_ids=pending_ids, limit=len(pending_ids))
        text = ngettext(
            "Sent %(sent)d of %(count)d pending message.", "Sent %(sent)d of %(count)d pending messages.",
            len(pending_ids),
        ) % {"sent": sent, "count": len(pending_ids)}
        self.message_user(request, text, messages.SUCCESS if sent == len(pending_ids) else messages.WARNING)


@admin.register(TaskExecution)
class TaskExecutionAdmin(ReadOnlyAdmin):
    list_display = ("task_id", "task_name", "finished_at")
    list_filter = ("task_name",)
    search_fields = ("=task_id",)
    ordering = ("-id",)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "recipient", "kind", "message", "read_at")
    list_filter = ("kind", "created_at")
    list_select_related = ("recipient",)
    search_fields = ("=recipient__username", "=kind")
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description=_("message"))
    def message(self, notification: Notification) -> str:
        return notification_text(notification)
class CalendarImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("UTF-8, a header row date,kind,name; kind is holiday or workday. "
                    "Replaces every year the file names."),
    )


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """Holidays and working weekend days (调休), edited one by one or imported per year from CSV."""

    list_display = ("day", "weekday", "kind", "name")
    list_filter = ("kind", ("day", admin.DateFieldListFilter))
    date_hierarchy = "day"
    search_fields = ("name",)
    fields = ("day", "kind", "name")

    def _is_admin(self, request: HttpRequest) -> bool:
        return _has_role_group(request.user, ADMIN_GROUPS)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._is_admin(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._is_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return self._is_admin(request)

    @admin.display(description=_("weekday"))
    def weekday(self, obj: CalendarDay) -> str:
        return date_format(obj.day, "l")

    def save_model(self, request: HttpRequest, obj: CalendarDay, form, change: bool) -> None:
        workdays.calendar_day_save(calendar_day=obj, by=request.user)

    def delete_model(self, request: HttpRequest, obj: CalendarDay) -> None:
        workdays.calendar_day_delete(calendar_day=obj, by=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[CalendarDay]) -> None:
        for obj in queryset:
            workdays.calendar_day_delete(calendar_day=obj, by=request.user)

    def get_urls(self):
        return [
            path("import/", self.admin_site.admin_view(self.import_view), name="core_calendarday_import"),
            *super().get_urls(),
        ]

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self._is_admin(request):
            raise PermissionDenied
        form = CalendarImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                text = form.cleaned_data["file"].read().decode("utf-8-sig")
            except UnicodeDecodeError:
                form.add_error("file", _("The file is not UTF-8."))
            else:
                try:
                    result = workdays.calendar_import_csv(text=text, by=request.user)
                except ApplicationError as exc:
                    form_add_application_error(form, exc)
                else:
                    self.message_user(request, _(
                        "Imported %(years)s: %(holidays)d holidays, %(workdays)d working weekend days."
                    ) % {"years": ", ".join(map(str, result.years)), "holidays": result.holidays,
                         "workdays": result.workdays}, messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:core_calendarday_changelist"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "form": form,
                   "title": _("Import the working-day calendar")}
        return TemplateResponse(request, "admin/core/calendarday/import.html", context)


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    """Anonymous denials per source address and minute (core.security_events)."""

    reader_groups = AUDIT_LOG_READER_GROUPS
    list_display = ("minute", "kind", "source", "count", "sample_path", "last_seen_at")
    list_filter = ("kind", "minute")
    search_fields = ("source",)


@admin.register(ApiReadTally)
class ApiReadTallyAdmin(ReadOnlyAdmin):
    """Who pulled how many (masked) customer rows through the API, per endpoint and hour."""

    reader_groups = AUDIT_LOG_READER_GROUPS
    list_display = ("hour", "principal_label", "endpoint", "requests", "rows")
    list_filter = ("principal_label", "endpoint", "hour")
    date_hierarchy = "hour"
    ordering = ("-hour", "-rows")
