"""Pages that change customer information: the edit form, consent, data-quality stewardship.

parse → authorize → one call → render; every customer comes through the scoped selector first.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from accounts import permissions
from accounts.models import User
from core.errors import ApplicationError
from core.forms import form_add_application_error
from customers import consent, editing, selectors, stewardship
from customers.edit_forms import ConsentSetForm, CustomerEditForm, IssueAssignForm, IssueWaiveForm
from customers.models import DataQualityIssue
from customers.views import _customer_or_404


def _next_url(request: HttpRequest, default: str) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                                     require_https=request.is_secure()):
        return candidate
    return default


class CustomerEditView(LoginRequiredMixin, View):
    """Correct a customer's information; saving runs the data-quality check for the customer."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        initial = {name: getattr(customer, name) for name in editing.EDITABLE_FIELDS}
        form = CustomerEditForm(initial=initial, customer=customer,
                                can_edit_pii=permissions.can_reveal_pii(request.user))
        return self._render(request, customer=customer, form=form)

    @method_decorator(sensitive_post_parameters("id_number", "phone", "email", "address"))
    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        form = CustomerEditForm(request.POST, customer=customer,
                                can_edit_pii=permissions.can_reveal_pii(request.user))
        if form.is_valid():
            try:
                result = editing.customer_edit(customer=customer, by=request.user, fields=form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                if not result.changed:
                    messages.info(request, _("Nothing was changed."))
                else:
                    messages.success(request, ngettext(
                        "The customer's information was saved; %(count)d data-quality issue is resolved.",
                        "The customer's information was saved; %(count)d data-quality issues are resolved.",
                        result.issues_resolved) % {"count": result.issues_resolved})
                return redirect(_next_url(request, customer_detail_url(customer.pk)))
        return self._render(request, customer=customer, form=form)

    @staticmethod
    def _authorized_customer(request: HttpRequest, customer_id: int):
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        if not permissions.can_edit_customer(request.user):
            raise PermissionDenied
        return customer

    @staticmethod
    def _render(request: HttpRequest, *, customer, form) -> HttpResponse:
        issues = list(selectors.data_quality_issue_list_visible_to(user=request.user).filter(customer=customer))
        return render(request, "customers/customer_edit.html", {
            "customer": customer, "form": form, "issues": issues,
            "next": _next_url(request, ""),
        })


def customer_detail_url(customer_id: int) -> str:
    return reverse("customers:customer-detail", args=[customer_id])


class CustomerConsentView(LoginRequiredMixin, View):
    """Consent per purpose and channel: give or withdraw each with one click, and the history."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._visible_customer(request, customer_id)
        return self._render(request, customer=customer, form=ConsentSetForm())

    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._visible_customer(request, customer_id)
        if not permissions.can_manage_consent(request.user):
            raise PermissionDenied
        form = ConsentSetForm(request.POST)
        if form.is_valid():
            try:
                consent.consent_set(customer=customer, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("The consent was recorded."))
                return redirect("customers:customer-consent", customer_id=customer.pk)
        return self._render(request, customer=customer, form=form, status=400)

    @staticmethod
    def _visible_customer(request: HttpRequest, customer_id: int):
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        return _customer_or_404(request.user, customer_id)

    @staticmethod
    def _render(request: HttpRequest, *, customer, form, status: int = 200) -> HttpResponse:
        return render(request, "customers/customer_consent.html", {
            "customer": customer, "form": form,
            "matrix": consent.consent_matrix_for(customer=customer),
            "history": list(consent.consent_history_for(customer=customer)[:100]),
            "can_manage": permissions.can_manage_consent(request.user),
            "methods": form.fields["method"].choices,
        }, status=status)


class DataQualityIssueActionView(LoginRequiredMixin, View):
    """Assign, acknowledge or waive one issue (branch manager, admin); back to the queue."""

    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        issue = self._issue(request, issue_id)
        return self._render(request, issue=issue)

    def post(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        issue = self._issue(request, issue_id)
        action = request.POST.get("action")
        assign_form = waive_form = None
        try:
            if action == "acknowledge":
                stewardship.data_quality_issue_acknowledge(issue_id=issue.pk, by=request.user)
                messages.success(request, _("The issue is acknowledged."))
            elif action == "assign":
                assign_form = IssueAssignForm(request.POST, stewards=stewardship.data_quality_stewards_for(issue=issue))
                if not assign_form.is_valid():
                    return self._render(request, issue=issue, assign_form=assign_form, status=400)
                assignee_id = assign_form.cleaned_data["assignee"]
                assignee = User.objects.filter(pk=assignee_id).first() if assignee_id else None
                stewardship.data_quality_issue_assign(issue_id=issue.pk, assignee=assignee, by=request.user)
                messages.success(request, _("The issue is assigned."))
            elif action == "waive":
                waive_form = IssueWaiveForm(request.POST)
                if not waive_form.is_valid():
                    return self._render(request, issue=issue, waive_form=waive_form, status=400)
                stewardship.data_quality_issue_waive(issue_id=issue.pk, by=request.user, **waive_form.cleaned_data)
                messages.success(request, _("The issue is waived."))
            else:
                raise Http404
        except ApplicationError as error:
            form = waive_form or assign_form
            if form is None:
                raise
            form_add_application_error(form, error)
            return self._render(request, issue=issue, assign_form=assign_form, waive_form=waive_form, status=400)
        return redirect("customers:data-quality-queue")

    @staticmethod
    def _issue(request: HttpRequest, issue_id: int) -> DataQualityIssue:
        if not permissions.can_view_data_quality_queue(request.user):
            raise PermissionDenied
        issue = selectors.data_quality_issue_list_visible_to(user=request.user).filter(pk=issue_id).first()
        if issue is None:
            raise Http404
        if not permissions.can_steward_data_quality(request.user):
            raise PermissionDenied
        return issue

    @staticmethod
    def _render(request: HttpRequest, *, issue, assign_form=None, waive_form=None, status: int = 200):
        stewards = stewardship.data_quality_stewards_for(issue=issue)
        return render(request, "customers/data_quality_issue.html", {
            "issue": issue,
            "assign_form": assign_form or IssueAssignForm(initial={"assignee": issue.assigned_to_id},
                                                          stewards=stewards),
            "waive_form": waive_form or IssueWaiveForm(initial={"reason": issue.waiver_reason,
                                                                "until": issue.waived_until}),
            "can_edit_customer": permissions.can_edit_customer(request.user),
        }, status=status)
