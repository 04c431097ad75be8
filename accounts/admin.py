"""Admin for staff, branches, delegations, record shares and API keys. Delegations, shares and keys change
only through services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import permissions, services
from accounts.models import ApiKey, ApiScope, Branch, Delegation, RecordShare, RevealBudgetPolicy, Role, User
from core.errors import ApplicationError

_ROLE_LABELS = {role.value: role.label for role in Role}


def _apply_to_each(model_admin, request: HttpRequest, queryset: QuerySet, service, success_message) -> None:
    """Run an admin action's service on each selected row: refusals become warnings, the rest a count."""
    done_count = 0
    for obj in queryset:
        try:
            service(obj)
        except ApplicationError as error:
            model_admin.message_user(request, f"{obj}: {error.message}", level=messages.WARNING)
        else:
            done_count += 1
    if done_count:
        model_admin.message_user(request, success_message(done_count) % {"count": done_count},
                                 level=messages.SUCCESS)


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
        _apply_to_each(
            self, request, queryset,
            lambda delegation: services.delegation_revoke(delegation=delegation, by=request.user),
            lambda count: ngettext("%(count)d delegation revoked.", "%(count)d delegations revoked.", count),
        )


@admin.register(RecordShare)
class RecordShareAdmin(admin.ModelAdmin):
    """Read-only history of records shared with colleagues; an administrator can only revoke."""

    list_display = ("record_label", "record_kind_label", "shared_with", "shared_by", "ends_on", "created_at",
                    "revoked_at")
    list_filter = ("content_type", ("revoked_at", admin.EmptyFieldListFilter), "ends_on")
    list_select_related = ("content_type", "shared_with", "shared_by")
    search_fields = ("shared_with__username", "shared_with__staff_number", "shared_with__last_name",
                     "shared_by__username", "shared_by__staff_number", "shared_by__last_name")
    date_hierarchy = "created_at"
    fields = ("content_type", "object_id", "shared_with", "shared_by", "reason", "ends_on", "created_at",
              "revoked_at", "revoked_by")
    readonly_fields = fields
    actions = ("revoke_selected",)

    @admin.display(description=_("record"))
    def record_label(self, obj: RecordShare) -> str:
        return f"{obj.content_type.model} #{obj.object_id}"

    @admin.display(description=_("record type"))
    def record_kind_label(self, obj: RecordShare) -> str:
        return str(obj.record_kind)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: RecordShare | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: RecordShare | None = None) -> bool:
        return False  # who could see which record, and why, is kept; revoke instead

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user)

    @admin.action(description=_("Revoke selected shares"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[RecordShare]) -> None:
        _apply_to_each(
            self, request, queryset,
            lambda share: services.record_share_revoke(share=share, by=request.user,
                                                       may_share_record=permissions.is_admin(request.user)),
            lambda count: ngettext("%(count)d share revoked.", "%(count)d shares revoked.", count),
        )


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=ApiScope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiKey
        fields = ("name", "scopes", "branch", "expires_at")

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError(_("The expiry must be in the future."))
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created here (shown once, on the page after saving) and revoked; never edited or deleted."""

    form = ApiKeyCreateForm
    list_display = (
        "name", "prefix", "scope_list", "branch", "created_at", "expires_at", "last_used_at", "revoked_at",
    )
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), ("expires_at", admin.EmptyFieldListFilter), "branch")
    list_select_related = ("branch",)
    search_fields = ("name", "prefix")
    readonly_fields = ("prefix", "created_at", "created_by", "last_used_at", "revoked_at")
    actions = ("revoke_selected",)

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None):
        if obj is None:
            return ("name", "scopes", "branch", "expires_at")
        # Never key_hash: it is of no use to a reader and need not be exposed.
        return ("name", "prefix", "scopes", "branch", "created_at", "created_by", "expires_at",
                "last_used_at", "revoked_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return permissions.can_manage_api_keys(request.user)

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # audit rows name keys; revoke instead

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return permissions.can_manage_api_keys(request.user)

    def save_model(self, request: HttpRequest, obj: ApiKey, form, change: bool) -> None:
        api_key, raw_key = services.api_key_create(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            by=request.user,
            expires_at=form.cleaned_data["expires_at"],
            branch=form.cleaned_data["branch"],
        )
        # The admin goes on with ``obj`` (log entry, response); make it the row the service wrote.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(api_key, field.attname))
        obj._state.adding = False
        request._api_key_raw_key = raw_key  # on the request: this ModelAdmin is shared by all requests

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue=None):
        raw_key = getattr(request, "_api_key_raw_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("API key created"),
            "api_key": obj,
            "raw_key": raw_key,
        }
        response = TemplateResponse(request, "admin/accounts/apikey/created.html", context)
        response["Cache-Control"] = "no-store"  # the page holds the plaintext key
        return response

    @admin.action(description=_("Revoke selected API keys"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        _apply_to_each(
            self, request, queryset,
            lambda api_key: services.api_key_revoke(api_key=api_key, by=request.user),
            lambda count: ngettext("%(count)d API key revoked.", "%(count)d API keys revoked.", count),
        )


@admin.register(RevealBudgetPolicy)
class RevealBudgetPolicyAdmin(admin.ModelAdmin):
    """Versions are never edited: a new limit is a new version with its own effective_from."""

    list_display = ("version", "reveals_per_hour", "effective_from", "created_at")
    fields = ("version", "reveals_per_hour", "effective_from")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False
