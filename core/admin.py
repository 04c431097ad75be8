"""Read-only admin for the audit log, the task outbox, the task-execution ledger and notifications."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.dateformat import format as date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from core import audit, masking, workdays
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
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    # accounts.User caches its role names for the request: one query for every check of the page.
    role_names = getattr(user, "role_names", None)
    if callable(role_names):
        return not role_names().isdisjoint(group_names)
    return user.groups.filter(name__in=group_names).exists()


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



# --- The audit log -------------------------------------------------------------------------

AUDIT_LIST_COUNT_CAP = 10_000  # the changelist counts at most this many rows (pages beyond: filter)
_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_RESIDENT_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_ACTOR_LABELS = {"system": _("system (automatic)"), "anonymous": _("anonymous (not signed in)")}


def masked_audit_detail(value: Any, *, key: str = "") -> Any:
    """An audit row's detail with anything that could be PII masked, for display.

    Details hold ids and metadata by contract (core.audit); this is the second line: values under
    PII-like keys are masked by kind, and a mobile or resident ID number anywhere in a text is too.
    """
    if isinstance(value, dict):
        return {k: masked_audit_detail(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked_audit_detail(v, key=key) for v in value]
    if not isinstance(value, str):
        return value
    lowered = key.lower()
    if "phone" in lowered or "mobile" in lowered:
        return masking.mask_phone(value)
    if "id_number" in lowered:
        return masking.mask_id_number(value)
    if "email" in lowered:
        return masking.mask_email(value)
    if "address" in lowered:
        return masking.mask_address(value)
    if lowered == "name" or lowered.endswith("_name"):
        return masking.mask_name(value)
    value = _PHONE_IN_TEXT.sub(lambda match: masking.mask_phone(match.group()), value)
    return _RESIDENT_ID_IN_TEXT.sub(lambda match: masking.mask_id_number(match.group()), value)


class CappedCountPaginator(Paginator):
    """Counts at most AUDIT_LIST_COUNT_CAP rows (COUNT over a LIMIT subquery), never the whole table."""

    @cached_property
    def count(self) -> int:
        # Unordered: the count needs no sort, so the filter's own index answers it (measured 269 -> 65 ms
        # for one action at 1M rows, bench/audit_admin_bench.py).
        return self.object_list.order_by()[:AUDIT_LIST_COUNT_CAP].count()


class AuditEventChangeList(ChangeList):
    """Loads the page's actors in one query (actor_id is no foreign key: rows outlive users)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        actor_ids = {event.actor_id for event in self.result_list if event.actor_id is not None}
        users = get_user_model().objects.in_bulk(actor_ids) if actor_ids else {}
        for event in self.result_list:
            event.actor_user = users.get(event.actor_id)


class AuditActionFilter(admin.SimpleListFilter):
    """Actions by their label; the choices come from the registry, never a DISTINCT over the table."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return audit.audit_action_choices()

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class AuditActorFilter(admin.SimpleListFilter):
    """Kinds of actor, or one member of staff (the actor column links here with their id)."""

    title = _("actor")
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        choices = [("staff", _("staff")), ("system", _("system (automatic)")),
                   ("anonymous", _("anonymous (not signed in)")), ("api", _("API keys"))]
        if (self.value() or "").isdigit():
            user = get_user_model().objects.filter(pk=int(self.value())).first()
            if user is not None:
                choices.append((self.value(), user.display_name))
        return choices

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "staff":
            return queryset.filter(actor_id__isnull=False)
        if value in ("system", "anonymous"):
            return queryset.filter(actor_id__isnull=True, actor_label=value)
        if value == "api":
            return queryset.filter(actor_label__startswith="api-key:")
        if value.isdigit():
            return queryset.filter(actor_id=int(value))
        return queryset.none()


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log as people read it: translated actions, staff names, the object, masked details.

    Read-only for everyone (superusers too: NoWritesAdminMixin); for admins and compliance auditors.
    Fast at millions of rows: no full count, a capped filtered count, actors loaded per page.
    """

    reader_groups = AUDIT_LOG_READER_GROUPS
    list_display = ("occurred_at", "action_label", "actor_display", "target_display", "detail_display",
                    "ip_address")
    list_display_links = ("occurred_at",)
    list_filter = (AuditActionFilter, AuditActorFilter, ("occurred_at", admin.DateFieldListFilter))
    # Exact matches only: a substring search would scan the whole, ever-growing table.
    search_fields = ("=actor_label", "=target_id", "=request_id")
    search_help_text = _("Exact username, target id or request id.")
    ordering = ("-id",)
    show_full_result_count = False
    paginator = CappedCountPaginator
    list_per_page = 100
    fields = ("occurred_at", "action_label", "action", "actor_display", "target_display", "detail_display",
              "ip_address", "request_id", "chain_seq", "prev_hash", "hash")
    readonly_fields = fields

    def get_changelist(self, request: HttpRequest, **kwargs):
        return AuditEventChangeList

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, event: AuditEvent) -> str:
        return audit.audit_action_label(event.action)

    @admin.display(description=_("actor"))
    def actor_display(self, event: AuditEvent) -> str:
        """The staff member's name (username alongside), linked to their other events; else the label."""
        if event.actor_id is None:
            label = _ACTOR_LABELS.get(event.actor_label)
            if label is not None:
                return str(label)
            if event.actor_label.startswith("api-key:"):
                return _("API key %(name)s") % {"name": event.actor_label.removeprefix("api-key:")}
            return event.actor_label
        user = getattr(event, "actor_user", None)
        if user is None and not hasattr(event, "actor_user"):  # the detail page: one row, one query
            user = get_user_model().objects.filter(pk=event.actor_id).first()
        name = (user.display_name) if user is not None else event.actor_label
        username = user.get_username() if user is not None else event.actor_label
        text = name if name == username else f"{name} ({username})"
        return format_html('<a href="?actor={}">{}</a>', event.actor_id, text)

    @admin.display(description=_("object"))
    def target_display(self, event: AuditEvent) -> str:
        """The object's type and id, linked to its admin page when there is one."""
        if not event.target_type:
            return "—"
        try:
            model = apps.get_model(event.target_type)
        except (LookupError, ValueError):
            return f"{event.target_type} #{event.target_id}"
        text = f"{capfirst(model._meta.verbose_name)} #{event.target_id}"
        if model not in self.admin_site._registry:
            return text
        try:
            url = reverse(f"{self.admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_change",
                          args=[event.target_id])
        except NoReverseMatch:
            return text
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.display(description=_("detail"))
    def detail_display(self, event: AuditEvent) -> str:
        if not event.detail:
            return "—"
        masked = masked_audit_detail(event.detail)
        return "; ".join(f"{key}: {json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value}"
                         for key, value in masked.items()) if isinstance(masked, dict) else json.dumps(masked)


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
