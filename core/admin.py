"""Read-only admin for the audit log, the task outbox, the task-execution ledger and notifications."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core.models import AuditEvent, Notification, OutboxMessage, TaskExecution
from core.notifications import notification_text
from core.outbox import outbox_relay

# core is the bottom layer and may not import accounts.permissions, so these predicates check
# the role groups by name (accounts.models.Role values) the way is_admin and
# can_view_audit_log do there. tests/core/test_audit.py keeps the two in step.
ADMIN_GROUPS = ("admin",)
AUDIT_LOG_READER_GROUPS = ("admin", "compliance_auditor")


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
