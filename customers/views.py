"""Staff pages for customers: parse → authorize → one call → render (STYLE.md §6).

Every per-customer page fetches the customer through ``customer_get_visible_to`` first, so a
customer outside the viewer's scope is a 404 (its existence is not confirmed), before any
role check that could answer 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_vary_headers
from django.utils.decorators import method_decorator
from django.utils.functional import lazy
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from accounts import permissions
from accounts import selectors as account_selectors
from accounts.models import RecordShare, User
from core.errors import ApplicationError
from core.forms import RecordShareForm, form_add_application_error
from core.pagination import UncountedPage, page_number
from customers import consent, selectors, services, stewardship
from customers.forms import (
    CustomerFilterForm,
    DataQualityFilterForm,
    IdentifierSearchForm,
    InteractionForm,
    TransactionPageForm,
    UnassignedAssignForm,
)
from customers.models import Customer, ProductCategory

CUSTOMER_PAGE_SIZE = 50
NEXT_STEP_PAGE_SIZE = 50
DATA_QUALITY_PAGE_SIZE = 50
TRANSACTION_PAGE_SIZE = 20
INTERACTIONS_SHOWN = 20
# An ID number or a phone matches one customer, rarely a few; never render a whole table for one.
IDENTIFIER_RESULTS_MAX = 20

capfirst_lazy = lazy(capfirst, str)

# The PII a permitted viewer may unmask, in page order, with the masked property shown meanwhile.
REVEALABLE_FIELDS = {
    name: (capfirst_lazy(Customer._meta.get_field(name).verbose_name), f"masked_{name}")
    for name in Customer.PII_FIELDS
}


# --- Request helpers ----------------------------------------------------------------------------


def _is_htmx(request: HttpRequest, *, target: str | None = None) -> bool:
    """An htmx swap into ``target``; a history restore wants the whole page, so it is not one."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request"):
        return False
    return target is None or request.headers.get("HX-Target") == target


def _customer_or_404(user: User, customer_id: int, *, shared: bool = False) -> Customer:
    try:
        return selectors.customer_get_visible_to(user=user, customer_id=customer_id, shared=shared)
    except Customer.DoesNotExist as error:
        services.customer_out_of_scope_record(user=user, customer_id=customer_id)
        raise Http404 from error


class CustomerListView(LoginRequiredMixin, View):
    """My / branch / all customers: name search and filters by GET, exact identifier search by POST."""

    RESULTS_TARGET = "customer-results"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        filter_form = self._filter_form(request, data=request.GET)
        filter_form.is_valid()  # an invalid filter is dropped by filters(), the page still renders
        filters = filter_form.filters()
        attribute_filter = filter_form.attribute_filter()

        def build(*, shared: bool) -> QuerySet:
            customers = selectors.customer_search_visible_to(user=user, shared=shared, **filters).for_listing()
            if attribute_filter:
                customers = selectors.customer_attribute_filter(customers, **attribute_filter)
            return customers

        customers = selectors.customer_list_pages(user=user, build=build)
        page = self._paginate(request, user=user, customers=customers, branch_id=filters["branch_id"])
        context = self._context(request, filter_form=filter_form, page=page,
                                identifier_form=IdentifierSearchForm())
        if _is_htmx(request, target=self.RESULTS_TARGET):
            response = render(request, "customers/partials/customer_results.html", context)
        else:
            response = render(request, "customers/customer_list.html", context)
        # The same URL answers a fragment or a page: caches and the back button must keep them apart.
        patch_vary_headers(response, ["HX-Request"])
        return response

    @method_decorator(sensitive_post_parameters("id_number", "phone"))
    def post(self, request: HttpRequest) -> HttpResponse:
        """Exact search through the blind index. POST keeps the identifier out of URLs and logs."""
        user = request.user
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        identifier_form = IdentifierSearchForm(request.POST)
        identifier_results = page = None
        filter_form = self._filter_form(request)
        if not identifier_form.is_valid():
            # Say what is wrong next to the input, keep it to correct, and keep the usual list below.
            identifier_form.keep_input()
            page = self._paginate(request, user=user, customers=selectors.customer_list_pages(
                user=user,
                build=lambda shared: selectors.customer_search_visible_to(
                    user=user, query="", shared=shared).for_listing(),
            ), branch_id=None)
        else:
            identifier_results = services.customer_identifier_search(
                user=user,
                id_number=identifier_form.cleaned_data["id_number"] or None,
                phone=identifier_form.cleaned_data["phone"] or None,
                limit=IDENTIFIER_RESULTS_MAX,
            )
        context = self._context(
            request,
            filter_form=filter_form,
            page=page,
            identifier_form=identifier_form if identifier_results is None else IdentifierSearchForm(),
            identifier_results=identifier_results,
            identifier_kind=self._identifier_kind(identifier_form),
        )
        response = render(request, "customers/customer_list.html", context)
        add_never_cache_headers(response)
        return response

    @staticmethod
    def _identifier_kind(form: IdentifierSearchForm) -> str | None:
        if not form.is_valid():
            return None
        return "id_number" if form.cleaned_data["id_number"] else "phone"

    def _filter_form(self, request: HttpRequest, data=None) -> CustomerFilterForm:
        return CustomerFilterForm(data, with_branch=permissions.sees_all_branches(request.user))

    def _paginate(self, request: HttpRequest, *, user: User,
                  customers: QuerySet | selectors.CustomerListWithShares, branch_id: int | None):
        """Count when the scope is bounded (own, one branch); head-office scope pages without counting."""
        if permissions.sees_all_branches(user) and branch_id is None:
            return UncountedPage(customers, number=page_number(request.GET.get("page")),
                                 per_page=CUSTOMER_PAGE_SIZE)
        return Paginator(customers, CUSTOMER_PAGE_SIZE).get_page(request.GET.get("page"))

    def _context(self, request: HttpRequest, **context) -> dict:
        user = request.user
        if permissions.sees_all_branches(user):
            heading = _("Customers")
        elif permissions.is_branch_manager(user):
            heading = _("Branch customers")
        elif permissions.is_relationship_manager(user):
            heading = _("My customers")
        else:
            heading = _("Customers")
        context.setdefault("identifier_results", None)
        context.setdefault("identifier_kind", None)
        return {
            "heading": heading,
            "results_target": self.RESULTS_TARGET,
            "show_branch_column": permissions.sees_all_branches(user),
            "show_manager_column": not (
                permissions.is_relationship_manager(user)
                and not permissions.is_branch_manager(user)
                and not permissions.sees_all_branches(user)
            ),
            **context,
        }


class CustomerDetailView(LoginRequiredMixin, View):
    """The customer 360 (客户全景视图): profile, money, holdings, transactions, contacts, data quality."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        user = request.user
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        # A customer shared with the user opens read only: no reveals, edits or new contacts.
        customer = _customer_or_404(user, customer_id, shared=True)
        serves = not customer.via_share
        can_reveal = serves and permissions.can_reveal_pii(user)
        pii_fields = [
            {"name": name, "label": label, "masked": getattr(customer, masked_attribute),
             "has_value": bool(getattr(customer, name)), "can_reveal": can_reveal}
            for name, (label, masked_attribute) in REVEALABLE_FIELDS.items()
        ]
        summary = selectors.customer_financial_summary(customer=customer)
        context = {
            "customer": customer,
            "pii_fields": pii_fields,
            "summary": summary,
            "balances_by_category": [
                (ProductCategory(category).label, amount)
                for category, amount in summary["by_category"].items()
            ],
            "holdings": list(selectors.holding_list_for(customer=customer)),
            "transactions_page": UncountedPage(
                selectors.transaction_list_for(customer=customer), number=1, per_page=TRANSACTION_PAGE_SIZE
            ),
            "interactions": list(selectors.interaction_list_for(customer=customer)[:INTERACTIONS_SHOWN]),
            "interactions_shown": INTERACTIONS_SHOWN,
            "data_quality_issues": self._open_issues(user, customer),
            "show_data_quality": permissions.can_see_data_quality_issues(user),
            "can_record_interaction": serves and permissions.can_record_interaction(user),
            "can_edit_customer": serves and permissions.can_edit_customer(user),
            "via_share": customer.via_share,
            "can_share": serves and permissions.can_share_customer(user, customer),
            "consent_matrix": consent.consent_matrix_for(customer=customer),
            "attribute_values": selectors.customer_attribute_values(customer=customer),
        }
        response = render(request, "customers/customer_detail.html", context)
        # Revealed values are swapped into this page; keep the page itself out of shared caches.
        add_never_cache_headers(response)
        return response

    @staticmethod
    def _open_issues(user: User, customer: Customer) -> list:
        if not permissions.can_see_data_quality_issues(user):
            return []
        # Narrow the viewer's scoped list to this customer: served by the (customer, status) index.
        return list(selectors.data_quality_issue_list_visible_to(user=user).filter(customer=customer))


class CustomerRevealView(LoginRequiredMixin, View):
    """Unmask one PII field for a permitted viewer; the service writes the audit row."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, customer_id: int, field: str) -> HttpResponse:
        user = request.user
        if field not in REVEALABLE_FIELDS:
            raise Http404
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        customer = _customer_or_404(user, customer_id)
        if not permissions.can_reveal_pii(user):
            raise PermissionDenied
        label, _masked_attribute = REVEALABLE_FIELDS[field]
        context = {"customer": customer, "field": field, "label": label, "revealed_at": timezone.now()}
        try:
            context["value"] = services.customer_pii_reveal(customer=customer, field=field, by=user)
        except ApplicationError as error:
            if not _is_htmx(request):
                raise  # ApplicationErrorMiddleware shows it as a message
            context["error"] = error.message
        if _is_htmx(request):
            response = render(request, "customers/partials/pii_revealed.html", context)
        else:
            response = render(request, "customers/customer_reveal.html", context)
        add_never_cache_headers(response)
        return response


class CustomerTransactionsView(LoginRequiredMixin, View):
    """One page of the customer's transactions, newest first (an htmx fragment of the 360 page)."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        user = request.user
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        customer = _customer_or_404(user, customer_id, shared=True)
        page_form = TransactionPageForm(request.GET)
        number = (page_form.cleaned_data["page"] or 1) if page_form.is_valid() else 1
        page = UncountedPage(
            selectors.transaction_list_for(customer=customer), number=number, per_page=TRANSACTION_PAGE_SIZE
        )
        context = {"customer": customer, "transactions_page": page}
        if _is_htmx(request):
            response = render(request, "customers/partials/transaction_table.html", context)
        else:
            response = render(request, "customers/customer_transactions.html", context)
        patch_vary_headers(response, ["HX-Request"])
        return response


class InteractionCreateView(LoginRequiredMixin, View):
    """Record a visit, call, online contact or event with the customer."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        now = timezone.localtime().replace(second=0, microsecond=0)
        return self._render(request, customer=customer, form=InteractionForm(initial={"occurred_at": now}))

    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        form = InteractionForm(request.POST)
        if form.is_valid():
            try:
                services.interaction_record(customer=customer, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("The interaction was recorded."))
                return redirect("customers:customer-detail", customer_id=customer.pk)
        return self._render(request, customer=customer, form=form)

    @staticmethod
    def _authorized_customer(request: HttpRequest, customer_id: int) -> Customer:
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        if not permissions.can_record_interaction(request.user):
            raise PermissionDenied
        return customer

    @staticmethod
    def _render(request: HttpRequest, *, customer: Customer, form: InteractionForm) -> HttpResponse:
        return render(request, "customers/interaction_form.html", {"customer": customer, "form": form})


def _with_revoke_url(share: RecordShare, url: str) -> RecordShare:
    share.revoke_url = url
    return share


class CustomerShareView(LoginRequiredMixin, View):
    """Share the customer with a named colleague until a day, and see or end the shares in force."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        return self._render(request, customer=customer, form=self._form(request))

    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        form = self._form(request, data=request.POST)
        if form.is_valid():
            try:
                share = services.customer_share(customer=customer, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("%(name)s can open this customer until %(ends_on)s.") % {
                    "name": share.shared_with.display_name,
                    "ends_on": share.ends_on.isoformat(),
                })
                return redirect("customers:customer-share", customer_id=customer.pk)
        return self._render(request, customer=customer, form=form, status=400)

    @staticmethod
    def _authorized_customer(request: HttpRequest, customer_id: int) -> Customer:
        """A customer the user serves (a share is never passed on) and may share; 404 before 403."""
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        if not permissions.can_share_customer(request.user, customer):
            raise PermissionDenied
        return customer

    @staticmethod
    def _form(request: HttpRequest, data=None) -> RecordShareForm:
        return RecordShareForm(data, colleague_queryset=account_selectors.share_colleague_candidates(user=request.user))

    @staticmethod
    def _render(request: HttpRequest, *, customer: Customer, form: RecordShareForm, status: int = 200) -> HttpResponse:
        context = {
            "customer": customer,
            "form": form,
            "shares": [
                _with_revoke_url(share, reverse("customers:customer-share-revoke", args=[customer.pk, share.pk]))
                for share in account_selectors.record_shares_active_for(record=customer)
            ],
            "max_days": RecordShare.MAX_DAYS,
        }
        response = render(request, "customers/customer_share.html", context, status=status)
        add_never_cache_headers(response)
        return response


class CustomerShareRevokeView(LoginRequiredMixin, View):
    """End one share of the customer now (POST only)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, customer_id: int, share_id: int) -> HttpResponse:
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        try:
            share = account_selectors.record_shares_active_for(record=customer).get(pk=share_id)
        except RecordShare.DoesNotExist as error:
            raise Http404 from error
        services.customer_share_revoke(customer=customer, share=share, by=request.user)
        messages.success(request, _("The share was revoked."))
        return redirect("customers:customer-share", customer_id=customer.pk)


class NextStepListView(LoginRequiredMixin, View):
    """"My next steps": the next steps recorded on interactions, overdue first, then today, then upcoming.

    An RM sees those of the customers they serve (accounts.scope: their own and delegated to them);
    a branch manager their branch's.
    """

    FILTER_LABELS = {
        selectors.NEXT_STEP_OVERDUE: pgettext_lazy("next step", "Overdue"),
        selectors.NEXT_STEP_THIS_WEEK: pgettext_lazy("next step", "This week"),
        selectors.NEXT_STEP_ALL: pgettext_lazy("next step", "All"),
    }

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_next_steps(user):
            raise PermissionDenied
        when = request.GET.get("when")
        if when not in selectors.NEXT_STEP_FILTERS:
            when = selectors.NEXT_STEP_ALL
        today = timezone.localdate()
        page = Paginator(selectors.next_step_list_visible_to(user=user, when=when, today=today),
                         NEXT_STEP_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = []
        for interaction in page.object_list:
            due_on = interaction.next_step_due_on
            group = "overdue" if due_on < today else "today" if due_on == today else "upcoming"
            rows.append((group, interaction))
        return render(request, "customers/next_step_list.html", {
            "page": page,
            "rows": rows,
            "when": when,
            "filters": [(key, label) for key, label in self.FILTER_LABELS.items()],
            "today": today,
            "heading": (_("Next steps in my branch") if permissions.is_branch_manager(user)
                        else _("My next steps")),
            "overdue_window_days": selectors.NEXT_STEP_OVERDUE_WINDOW_DAYS,
        })


class DataQualityQueueView(LoginRequiredMixin, View):
    """Open data-quality issues (MANUAL 2.2) for branch managers; admins and auditors read it too."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_data_quality_queue(user):
            raise PermissionDenied
        filter_form = DataQualityFilterForm(request.GET)
        rule = (filter_form.cleaned_data.get("rule") or None) if filter_form.is_valid() else None
        counts = selectors.data_quality_counts_by_rule(user=user)
        show_waived = request.GET.get("waived") == "1"
        issues = selectors.data_quality_issue_list_visible_to(user=user, rule=rule).select_related("assigned_to")
        if not show_waived:
            issues = issues.exclude(stewardship.waived_q())
        page = UncountedPage(
            issues,
            number=page_number(request.GET.get("page")),
            per_page=DATA_QUALITY_PAGE_SIZE,
        )
        context = {
            "filter_form": filter_form,
            "rule": rule,
            "counts": counts,
            "total_open": sum(count for _rule, _label, count in counts),
            "selected_count": next((count for value, _label, count in counts if value == rule), None),
            "page": page,
            "read_only": not permissions.can_steward_data_quality(user),
            "ageing": stewardship.data_quality_ageing_by_branch(user=user),
            "show_waived": show_waived,
        }
        return render(request, "customers/data_quality_queue.html", context)


class UnassignedCustomersView(LoginRequiredMixin, View):
    """Customers without a relationship manager (e.g. from an import without RMs), for the branch
    manager to assign in bulk; admins may assign too."""

    def _context(self, request: HttpRequest, form: UnassignedAssignForm | None = None) -> dict:
        user = request.user
        page = UncountedPage(selectors.customer_unassigned_visible_to(user=user),
                             number=page_number(request.GET.get("page")), per_page=CUSTOMER_PAGE_SIZE)
        customers = list(page)
        managers = selectors.relationship_managers_of_branches(
            branch_ids={customer.branch_id for customer in customers} or {user.branch_id})
        form = form or UnassignedAssignForm(managers=managers, customer_ids=[c.pk for c in customers])
        return {"page": page, "customers": customers, "form": form}

    def get(self, request: HttpRequest) -> HttpResponse:
        if not (permissions.is_branch_manager(request.user) or permissions.is_admin(request.user)):
            raise PermissionDenied
        return render(request, "customers/unassigned_customers.html", self._context(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not (permissions.is_branch_manager(user) or permissions.is_admin(user)):
            raise PermissionDenied
        visible_ids = list(selectors.customer_unassigned_visible_to(user=user).values_list("pk", flat=True)[:5000])
        branch_ids = set(selectors.customer_unassigned_visible_to(user=user).values_list("branch_id", flat=True)
                         .distinct()) or {user.branch_id}
        form = UnassignedAssignForm(request.POST, managers=selectors.relationship_managers_of_branches(
            branch_ids=branch_ids), customer_ids=visible_ids)
        if form.is_valid():
            try:
                count = services.customer_relationship_manager_assign_bulk(
                    by=user, customer_ids=form.cleaned_data["customers"],
                    relationship_manager=form.cleaned_data["relationship_manager"])
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("%(count)d customers assigned.") % {"count": count})
                return redirect("customers:unassigned")
        return render(request, "customers/unassigned_customers.html", self._context(request, form), status=400)
