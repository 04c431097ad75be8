"""Admin for customer information: for administrators to look things up, not a second way to write.

Customer, holding and transaction rows come from core banking and the staff pages; interactions
and data-quality issues are written by services. Here they are read-only. Products are
reference data and editable. A data-quality policy is never edited: saving the form adds a new
version through the service (STYLE.md §5).

PII: the encrypted fields are never part of a form or a page here; masked values are shown
instead, and "查看明文" happens only on the staff pages, where it is audited.
"""

from __future__ import annotations

from math import ceil

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import permissions
from core.admin import NoWritesAdminMixin
from customers import importing, selectors, services
from customers.models import (
    CreditGradePolicy,
    CustomAttribute,
    CustomAttributeType,
    Customer,
    CustomerAttributeValue,
    DataQualityIssue,
    DataQualityPolicy,
    Holding,
    ImportJob,
    Interaction,
    Product,
    Transaction,
)

PII_FIELDS = Customer.PII_FIELDS
# The most customers the admin action checks at once; the nightly pass covers everyone.
DATA_QUALITY_ACTION_MAX_CUSTOMERS = 10_000


class CappedCountPaginator(Paginator):
    """Count at most COUNT_CAP + 1 rows and page no further than COUNT_CAP rows.

    The changelist's COUNT(*) over a 10^8-row table would take minutes, and so would a link
    to its last page (an OFFSET of 10^8). Beyond the cap an unfiltered table reports the
    planner's row estimate (pg_class.reltuples) and a filtered one the cap; either way only
    the first COUNT_CAP rows can be paged through: search or filter to find the rest.
    """

    COUNT_CAP = 10_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        capped_count = queryset.order_by()[: self.COUNT_CAP + 1].count()
        if capped_count <= self.COUNT_CAP:
            return capped_count
        if not queryset.query.where:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row and row[0] > self.COUNT_CAP:
                return row[0]
        return self.COUNT_CAP

    @cached_property
    def num_pages(self) -> int:
        if self.count == 0 and not self.allow_empty_first_page:
            return 0
        pageable_count = min(self.count, self.COUNT_CAP)
        return ceil(max(1, pageable_count - self.orphans) / self.per_page)


class AdminOnly(admin.ModelAdmin):
    """Visible to administrators only: these pages show every branch's customers."""

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


class ReadOnly(NoWritesAdminMixin, AdminOnly):
    """Rows written elsewhere: they can be read here, never added, changed or deleted."""


class BigTable(ReadOnly):
    """A table of 10^7-10^8 rows: no full count, no sorting by arbitrary columns, newest id first."""

    paginator = CappedCountPaginator
    show_full_result_count = False
    sortable_by = ()
    ordering = ("-id",)


@admin.register(Customer)
class CustomerAdmin(ReadOnly):
    list_display = (
        "external_id", "name", "branch", "relationship_manager", "masked_phone", "status",
        "completeness_score", "info_updated_at",
    )
    list_filter = (
        "status", "branch", "gender", "credit_rating", "risk_tolerance", "preferred_channel",
        "consent_data_processing", "consent_marketing",
    )
    list_select_related = ("branch", "relationship_manager")
    search_fields = ("^external_id", "name")
    search_help_text = _(
        "Customer number (starts with) or name (contains). Find a customer by ID number or phone on the "
        "customer list page, where the number is POSTed and audited, never put in a URL."
    )
    paginator = CappedCountPaginator
    show_full_result_count = False
    # Newest first by primary key; sorting 10^7 customers by name for one page would sort them all.
    ordering = ("-id",)
    sortable_by = ("external_id",)
    exclude = PII_FIELDS
    fieldsets = (
        (_("Basic information"), {"fields": (
            "external_id", "name", "gender", "birth_date", "occupation",
            "masked_id_number", "masked_phone", "masked_email", "masked_address",
        )}),
        (_("Relationship"), {"fields": (
            "branch", "relationship_manager", "customer_since", "status", "closed_on", "closed_reason",
        )}),
        (_("Financial information"), {"fields": ("total_assets", "liabilities", "annual_income")}),
        (_("Risk information"), {"fields": ("credit_rating", "risk_tolerance")}),
        (_("Behaviour information"), {"fields": ("preferred_channel",)}),
        (_("Consent"), {"fields": (
            "consent_data_processing", "consent_data_processing_at", "consent_marketing",
            "consent_marketing_at", "consent_channel",
        )}),
        (_("Data quality"), {"fields": (
            "completeness_score", "info_updated_at", "created_at", "updated_at",
        )}),
    )
    readonly_fields = ("masked_id_number", "masked_phone", "masked_email", "masked_address")
    actions = ("run_data_quality",)

    @admin.display(description=_("national ID number"))
    def masked_id_number(self, obj: Customer) -> str:
        return obj.masked_id_number

    @admin.display(description=_("mobile phone"))
    def masked_phone(self, obj: Customer) -> str:
        return obj.masked_phone

    @admin.display(description=_("email"))
    def masked_email(self, obj: Customer) -> str:
        return obj.masked_email

    @admin.display(description=_("address"))
    def masked_address(self, obj: Customer) -> str:
        return obj.masked_address

    def has_run_data_quality_permission(self, request: HttpRequest) -> bool:
        return permissions.is_admin(request.user)

    @admin.action(
        description=_("Check data quality of the selected customers"), permissions=["run_data_quality"]
    )
    def run_data_quality(self, request: HttpRequest, queryset: QuerySet[Customer]) -> None:
        selected_ids = queryset.order_by().values_list("pk", flat=True)
        customer_ids = list(selected_ids[: DATA_QUALITY_ACTION_MAX_CUSTOMERS + 1])
        if len(customer_ids) > DATA_QUALITY_ACTION_MAX_CUSTOMERS:
            self.message_user(
                request,
                _("Select at most %(count)d customers; the nightly check covers everyone.")
                % {"count": DATA_QUALITY_ACTION_MAX_CUSTOMERS},
                level=messages.WARNING,
            )
            return
        # Queued, not run in the request: the pass may wait for a running nightly pass's lock.
        services.data_quality_run_queue(customer_ids=customer_ids)
        self.message_user(
            request,
            ngettext(
                "Data-quality check queued for %(count)d customer; its issues update when it has run.",
                "Data-quality check queued for %(count)d customers; their issues update when it has run.",
                len(customer_ids),
            ) % {"count": len(customer_ids)},
            level=messages.SUCCESS,
        )


@admin.register(Product)
class ProductAdmin(AdminOnly):
    """Adds and edits go through services.product_upsert (validated, audited), as API writes do."""

    list_display = ("code", "name", "category", "risk_level", "is_active")
    list_filter = ("category", "risk_level", "is_active")
    search_fields = ("code", "name")
    fields = ("code", "name", "category", "risk_level", "is_active")

    def get_readonly_fields(self, request: HttpRequest, obj: Product | None = None):
        return ("code",) if obj is not None else ()  # the code is the product's key in every system

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # holdings refer to products: deactivate instead

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        saved, _created = services.product_upsert(
            by=request.user, code=obj.code, name=obj.name, category=obj.category, risk_level=obj.risk_level,
            is_active=obj.is_active,
        )
        obj.pk = saved.pk
        obj._state.adding = False


@admin.register(Holding)
class HoldingAdmin(BigTable):
    list_display = ("id", "customer", "product", "balance", "opened_on", "closed_on")
    list_filter = ("product__category", ("closed_on", admin.EmptyFieldListFilter))
    list_select_related = ("customer", "product")
    search_fields = ("=external_ref", "=customer__external_id")
    search_help_text = _("Exact external reference or customer number.")
    raw_id_fields = ("customer",)
    autocomplete_fields = ("product",)


@admin.register(Transaction)
class TransactionAdmin(BigTable):
    list_display = ("external_ref", "customer", "occurred_at", "amount", "direction", "channel", "type")
    list_filter = ("direction", "channel", "type")
    list_select_related = ("customer",)
    search_fields = ("=external_ref", "=customer__external_id")
    search_help_text = _("Exact transaction reference or customer number.")
    raw_id_fields = ("customer",)


@admin.register(Interaction)
class InteractionAdmin(BigTable):
    list_display = ("customer", "kind", "occurred_at", "staff", "outcome", "next_step_due_on")
    list_filter = ("kind", "outcome")
    list_select_related = ("customer", "staff")
    search_fields = ("=customer__external_id", "=staff__username")
    search_help_text = _("Exact customer number or staff username.")
    raw_id_fields = ("customer", "staff")


@admin.register(DataQualityIssue)
class DataQualityIssueAdmin(BigTable):
    list_display = ("customer", "rule", "status", "detail", "policy", "opened_at", "resolved_at")
    list_filter = ("status", "rule", "customer__branch")
    list_select_related = ("customer", "policy")
    search_fields = ("=customer__external_id",)
    search_help_text = _("Exact customer number.")
    raw_id_fields = ("customer",)


class DataQualityPolicyForm(forms.ModelForm):
    """The numbers of a new version; shape only, the service holds the rules."""

    stale_after_days = forms.IntegerField(label=_("stale after (days)"), min_value=1)

    class Meta:
        model = DataQualityPolicy
        fields = ("stale_after_days", "assets_tolerance_pct")


@admin.register(DataQualityPolicy)
class DataQualityPolicyAdmin(AdminOnly):
    """Versions are kept as they were; "add" saves a new version through the service."""

    form = DataQualityPolicyForm
    list_display = ("version", "stale_after_days", "assets_tolerance_pct", "created_at", "created_by")
    list_select_related = ("created_by",)
    search_fields = ("=version",)
    list_filter = ("created_at",)
    readonly_fields = ("version", "created_at", "created_by")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # issues point at the version that opened them

    def get_fields(self, request: HttpRequest, obj: DataQualityPolicy | None = None):
        if obj is None:
            return ("stale_after_days", "assets_tolerance_pct")
        return ("version", "stale_after_days", "assets_tolerance_pct", "created_at", "created_by")

    def get_changeform_initial_data(self, request: HttpRequest) -> dict:
        """Start a new version from the numbers of the current one."""
        latest = selectors.data_quality_policy_latest()
        return {
            "stale_after_days": latest.stale_after_days,
            "assets_tolerance_pct": latest.assets_tolerance_pct,
        }

    def save_model(self, request: HttpRequest, obj: DataQualityPolicy, form, change: bool) -> None:
        policy = services.data_quality_policy_create(
            stale_after_days=form.cleaned_data["stale_after_days"],
            assets_tolerance_pct=form.cleaned_data["assets_tolerance_pct"],
            by=request.user,
        )
        # The admin logs and redirects with this instance; point it at the saved version.
        obj.pk, obj.version, obj.created_at, obj.created_by = (
            policy.pk, policy.version, policy.created_at, policy.created_by
        )


# --- Imports from core-banking exports -----------------------------------------------------------


class ImportJobUploadForm(forms.ModelForm):
    """The file and a shipped mapping; the service checks the rest."""

    mapping = forms.ChoiceField(label=_("mapping"), choices=())
    source_file = forms.FileField(
        label=_("file"), help_text=_("CSV export in UTF-8, UTF-8 with BOM or GBK/GB18030."),
    )

    class Meta:
        model = ImportJob
        fields = ("mapping", "source_file")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "mapping" in self.fields:  # absent on a job's read-only page
            self.fields["mapping"].choices = [(name, name) for name in importing.mapping_names()]


@admin.register(ImportJob)
class ImportJobAdmin(AdminOnly):
    """Upload a core-banking export ("Import from core banking"); a Celery task imports it.

    Jobs are never edited or deleted here: status moves only through the services, and the
    page of a queued or running job reloads itself to show progress.
    """

    form = ImportJobUploadForm
    list_display = ("id", "kind", "mapping", "status", "progress", "rows_read", "rows_created", "rows_updated",
                    "rows_unchanged", "rows_rejected", "created_by", "created_at")
    list_filter = ("kind", "status")
    list_select_related = ("created_by",)
    readonly_fields = ("kind", "mapping", "file_name", "status", "progress", "rows_read", "rows_created",
                       "rows_updated", "rows_unchanged", "rows_rejected", "report", "error", "created_by",
                       "created_at", "started_at", "finished_at")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_fields(self, request: HttpRequest, obj: ImportJob | None = None):
        if obj is None:
            return ("mapping", "source_file")
        return self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: ImportJob | None = None):
        return self.readonly_fields if obj is not None else ()

    def get_urls(self):
        report_view = self.admin_site.admin_view(self.report_view)
        return [
            path("<path:object_id>/report/", report_view, name="customers_importjob_report"),
            *super().get_urls(),
        ]

    @admin.display(description=_("file"))
    def file_name(self, obj: ImportJob) -> str:
        return obj.source_file.name.rsplit("/", 1)[-1]

    @admin.display(description=_("progress"))
    def progress(self, obj: ImportJob) -> str:
        return f"{obj.progress_percent}% ({obj.bytes_read:,} / {obj.bytes_total:,} bytes)"

    @admin.display(description=_("error report"))
    def report(self, obj: ImportJob) -> str:
        if not obj.report_file:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse("admin:customers_importjob_report", args=[obj.pk]),
                           _("Download the error report (CSV)"))

    def save_model(self, request: HttpRequest, obj: ImportJob, form, change: bool) -> None:
        job = services.import_job_create(
            mapping_name=form.cleaned_data["mapping"], uploaded_file=form.cleaned_data["source_file"],
            by=request.user,
        )
        # The admin logs and redirects with this instance; point it at the saved job.
        obj.pk, obj.kind, obj.status, obj.created_at = job.pk, job.kind, job.status, job.created_at

    def response_add(self, request: HttpRequest, obj: ImportJob, post_url_continue=None) -> HttpResponse:
        self.message_user(request, _("Import queued; this page shows its progress."), level=messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:customers_importjob_change", args=[obj.pk]))

    def report_view(self, request: HttpRequest, object_id: str) -> FileResponse:
        if not permissions.is_admin(request.user):
            raise Http404
        job = ImportJob.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if job is None or not job.report_file:
            raise Http404
        return FileResponse(job.report_file.open("rb"), as_attachment=True, filename=f"import-{job.pk}-errors.csv",
                            content_type="text/csv; charset=utf-8")


# --- Issue 11: custom attributes and credit grade bands ------------------------------------------


class CustomAttributeForm(forms.ModelForm):
    class Meta:
        model = CustomAttribute
        fields = ("code", "type", "unit", "label_zh", "label_en", "choices", "is_active")

    def clean(self):
        cleaned = super().clean()
        choices = cleaned.get("choices") or []
        if not isinstance(choices, list) or not all(isinstance(c, str) and c for c in choices):
            self.add_error("choices", _("List the allowed codes as JSON strings, e.g. [\"S1\", \"S2\"]."))
        elif cleaned.get("type") == CustomAttributeType.CHOICE and not choices:
            self.add_error("choices", _("A choice attribute needs at least one allowed code."))
        if self.instance.pk and cleaned.get("type") and cleaned["type"] != self.instance.type \
                and self.instance.values.exists():
            self.add_error("type", _("Values are stored for this attribute: its type cannot change."))
        return cleaned


@admin.register(CustomAttribute)
class CustomAttributeAdmin(AdminOnly):
    """Admins declare the extra customer information an export carries (no migration needed)."""

    form = CustomAttributeForm
    list_display = ("code", "type", "unit", "label_zh", "label_en", "is_active")
    list_filter = ("type", "is_active")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # values refer to it: retire it with "in use" instead


@admin.register(CustomerAttributeValue)
class CustomerAttributeValueAdmin(BigTable):
    list_display = ("customer", "attribute", "value_number", "value_text", "value_date")
    list_select_related = ("customer", "attribute")


@admin.register(CreditGradePolicy)
class CreditGradePolicyAdmin(ReadOnly):
    """Versioned grade bands (seeded by migration 0011); customers are stamped with the version used."""

    list_display = ("version", "bands", "created_at")
