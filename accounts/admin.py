"""Admin for staff, branches and delegations. Delegations change only through services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import permissions, services
from accounts.models import Branch, Delegation, Role, User
from core.errors import ApplicationError

_ROLE_LABELS = {role.value: role.label for role in Role}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ("username", "get_full_name", "staff_number", "branch", "roles", "is_active", "last_login")
    list_filter = ("branch", "groups", "is_active", "is_staff", "is_superuser")
    list_select_related = ("branch",)
    search_fields = (
        "username", "first_name", "last_name", "email", "staff_number", "branch__code", "branch__name",
    )
    autocomplete_fields = ("branch",)
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (_("Bank"), {"fields": ("staff_number", "branch")}),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        (_("Bank"), {"fields": ("staff_number", "branch", "first_name", "last_name", "email", "groups")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    @admin.display(description=_("roles"))
    def roles(self, obj: User) -> str:
        labels = [str(_ROLE_LABELS.get(group.name, group.name)) for group in obj.groups.all()]
        return ", ".join(sorted(labels)) or "—"

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "groups":
            kwargs["label"] = _("Roles")
            kwargs["help_text"] = _("Each role is a group; access to customers follows the branch and role.")
        return super().formfield_for_manytomany(db_field, request, **kwargs)


@admin.register(Branch)
class BranchAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "region", "parent", "is_head_office")
    list_filter = ("region", "is_head_office")
    list_select_related = ("parent",)
    search_fields = ("code", "name")
    autocomplete_fields = ("parent",)


@admin.register(Delegation)
class DelegationAdmin(admin.ModelAdmin):
    """Read-only: RMs create delegations on their page; here an administrator can only revoke."""

    list_display = ("delegator", "delegate", "starts_on", "ends_on", "reason", "status_today", "revoked_at")
    list_filter = ("reason", ("revoked_at", admin.EmptyFieldListFilter), "starts_on", "delegator__branch")
    list_select_related = ("delegator", "delegate")
    search_fields = (
        "delegator__username", "delegator__staff_number", "delegator__last_name",
        "delegate__username", "delegate__staff_number", "delegate__last_name",
    )
    date_hierarchy = "starts_on"
    actions = ("revoke_selected",)

    @admin.display(description=_("status"))
    def status_today(self, obj: Delegation) -> str:
        return str(obj.status.label)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delegation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Delegation | None = None) -> bool:
        return False  # history of who could see whose customers is kept; revoke instead

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user)

    @admin.action(description=_("Revoke selected delegations"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Delegation]) -> None:
        revoked_count = 0
        for delegation in queryset:
            try:
                services.delegation_revoke(delegation=delegation, by=request.user)
            except ApplicationError as error:
                self.message_user(request, f"{delegation}: {error.message}", level=messages.WARNING)
            else:
                revoked_count += 1
        if revoked_count:
            self.message_user(
                request,
                ngettext("%(count)d delegation revoked.", "%(count)d delegations revoked.", revoked_count)
                % {"count": revoked_count},
                level=messages.SUCCESS,
            )
