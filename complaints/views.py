"""Complaint desk pages (MANUAL 3.3): parse → authorize → one call → render (STYLE.md §6).

A complaint outside the viewer's scope is a 404, checked before any role check that could
answer 403 for a single complaint. Service errors (an invalid transition, a conflict) come back
as a message on the page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from accounts import permissions
from accounts import selectors as account_selectors
from accounts.models import RecordShare
from complaints import matching, selectors, services
from complaints.forms import (
    ComplaintAttachmentForm,
    ComplaintCreateForm,
    ComplaintSearchForm,
    ComplaintTransitionForm,
    CustomerIdentifierForm,
    CustomerNameSearchForm,
    HotspotFilterForm,
    QueueFilterForm,
)
from complaints.models import Complaint, ComplaintAction
from core.errors import ApplicationError
from core.forms import RecordShareForm, form_add_application_error
from core.pagination import UncountedPage, page_number
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Customer

QUEUE_PAGE_SIZE = 50
CUSTOMER_RESULTS_MAX = 20


def _require(predicate, user) -> None:
    if not predicate(user):
        raise PermissionDenied


def _complaint_or_404(user, reference: str, *, shared: bool = False) -> Complaint:
    try:
        return selectors.complaint_get_visible_to(user=user, reference=reference, shared=shared)
    except Complaint.DoesNotExist as error:
        raise Http404 from error


class ComplaintQueueView(LoginRequiredMixin, View):
    """The desk queue with SLA timers, filters, sort and pages; the search by reference, name, phone by POST."""

    RESULTS_TARGET = "complaint-results"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        data = request.GET.copy()
        data.setdefault("status", selectors.STATUS_OPEN)  # the default queue: what still needs work
        form = QueueFilterForm(data, with_branch=permissions.sees_all_branches(user))
        form.is_valid()
        filters = form.filters()
        page = UncountedPage(selectors.complaint_queue_visible_to(user=user, filters=filters),
                             number=page_number(request.GET.get("page")), per_page=QUEUE_PAGE_SIZE)
        return render(request, "complaints/complaint_list.html",
                      self._context(request, form=form, page=page, search_form=ComplaintSearchForm()))

    @method_decorator(sensitive_post_parameters("name", "phone"))
    def post(self, request: HttpRequest) -> HttpResponse:
        """Search. POST keeps a complainant's name or phone out of URLs and access logs."""
        user = request.user
        _require(permissions.can_view_complaints, user)
        search_form = ComplaintSearchForm(request.POST)
        page = None
        if search_form.is_valid():
            page = services.complaint_search(
                user=user, reference=search_form.cleaned_data["reference"], name=search_form.cleaned_data["name"],
                phone=search_form.cleaned_data["phone"], page=page_number(request.POST.get("page")),
                per_page=QUEUE_PAGE_SIZE)
        context = self._context(request, form=QueueFilterForm(with_branch=permissions.sees_all_branches(user)),
                                page=page, search_form=search_form, searching=True)
        if _is_htmx(request, target=self.RESULTS_TARGET):
            response = render(request, "complaints/partials/complaint_results.html", context)
        else:
            response = render(request, "complaints/complaint_list.html", context)
        # The page holds what was typed (to refine it): never kept in a cache or the back-forward history.
        add_never_cache_headers(response)
        return response

    @staticmethod
    def _context(request: HttpRequest, **context) -> dict:
        user = request.user
        return {
            **context,
            "now": timezone.now(),
            "show_branch_column": permissions.sees_all_branches(user),
            "can_handle": permissions.can_handle_complaints(user),
            "can_view_hotspots": permissions.can_view_complaint_hotspots(user),
            # Escalations waiting for a branch manager (breaches and manual escalations).
            "unread_escalations": (selectors.notification_unread_count(user=user)
                                   if permissions.is_branch_manager(user) else 0),
        }


def _is_htmx(request: HttpRequest, *, target: str) -> bool:
    """An htmx swap into ``target``; a history restore wants the whole page, so it is not one."""
    if request.headers.get("HX-Request") != "true" or request.headers.get("HX-History-Restore-Request"):
        return False
    return request.headers.get("HX-Target") == target


class ComplaintCreateView(LoginRequiredMixin, View):
    """Log a complaint: find the customer (name by GET, ID number / phone by POST) or record a walk-in."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = self._authorize(request)
        name_form = CustomerNameSearchForm(request.GET)
        name_results = None
        if name_form.is_valid() and name_form.cleaned_data["q"].strip():
            name_results = list(customer_selectors.customer_search_visible_to(
                user=user, query=name_form.cleaned_data["q"]).for_listing()[:CUSTOMER_RESULTS_MAX])
        customer = self._selected_customer(request, request.GET.get("customer"))
        initial = {"customer_id": customer.pk} if customer else {}
        return self._render(request, form=ComplaintCreateForm(initial=initial), customer=customer,
                            name_form=name_form, name_results=name_results)

    def post(self, request: HttpRequest) -> HttpResponse:
        user = self._authorize(request)
        form = ComplaintCreateForm(request.POST, request.FILES)
        customer = None
        if form.is_valid():
            customer = self._selected_customer(request, form.cleaned_data["customer_id"])
            branch = customer.branch if customer else user.branch
            if branch is None:
                form.add_error(None, _("Find the customer first: your account belongs to no branch."))
            else:
                try:
                    complaint = services.complaint_create(
                        by=user, branch=branch, customer=customer,
                        contact_name="" if customer else form.cleaned_data["contact_name"],
                        contact_phone="" if customer else form.cleaned_data["contact_phone"],
                        channel=form.cleaned_data["channel"], category=form.cleaned_data["category"],
                        severity=form.cleaned_data["severity"], product=form.cleaned_data["product"],
                        description=form.cleaned_data["description"], attachment=form.cleaned_data["attachment"],
                    )
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    messages.success(request, _("Complaint %(reference)s was logged.") % {
                        "reference": complaint.reference})
                    return redirect("complaints:complaint-detail", reference=complaint.reference)
        return self._render(request, form=form, customer=customer, name_form=CustomerNameSearchForm())

    @staticmethod
    def _authorize(request: HttpRequest):
        _require(permissions.can_handle_complaints, request.user)
        return request.user

    @staticmethod
    def _selected_customer(request: HttpRequest, raw_id) -> Customer | None:
        try:
            customer_id = int(raw_id) if raw_id not in (None, "") else None
        except (TypeError, ValueError):
            customer_id = None
        if customer_id is None:
            return None
        try:
            return customer_selectors.customer_get_visible_to(user=request.user, customer_id=customer_id)
        except Customer.DoesNotExist as error:
            raise Http404 from error

    @staticmethod
    def _render(request, *, form, customer=None, name_form=None, name_results=None, identifier_form=None,
                identifier_results=None) -> HttpResponse:
        response = render(request, "complaints/complaint_form.html", {
            "form": form, "customer": customer, "name_form": name_form or CustomerNameSearchForm(),
            "name_results": name_results, "identifier_form": identifier_form or CustomerIdentifierForm(),
            "identifier_results": identifier_results,
        })
        add_never_cache_headers(response)
        return response


class ComplaintCustomerFindView(LoginRequiredMixin, View):
    """Exact search by ID number or phone for the complaint form; POST keeps the number out of URLs."""

    http_method_names = ["post"]

    @method_decorator(sensitive_post_parameters("id_number", "phone"))
    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_handle_complaints, user)
        identifier_form = CustomerIdentifierForm(request.POST)
        results = None
        if identifier_form.is_valid():
            results = customer_services.customer_identifier_search(
                user=user, id_number=identifier_form.cleaned_data["id_number"] or None,
                phone=identifier_form.cleaned_data["phone"] or None, limit=CUSTOMER_RESULTS_MAX)
        return ComplaintCreateView._render(
            request, form=ComplaintCreateForm(), identifier_form=identifier_form if results is None else None,
            identifier_results=results)


class ComplaintDetailView(LoginRequiredMixin, View):
    """One complaint: details, SLA clocks, timeline, the actions the status machine allows."""

    def get(self, request: HttpRequest, reference: str) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        # A complaint shared with the user opens read only: no actions, attachments or matching.
        complaint = _complaint_or_404(user, reference, shared=True)
        serves = not complaint.via_share
        if serves and permissions.is_branch_manager(user):
            services.complaint_notifications_mark_read(complaint=complaint, user=user)
        can_handle = serves and permissions.can_handle_complaints(user)
        actions = []
        if can_handle:
            actions = [
                {"value": action, "label": ComplaintAction(action).label,
                 "form": ComplaintTransitionForm(initial={"action": action, "expected_version": complaint.version})}
                for action in complaint.allowed_actions()
            ]
        response = render(request, "complaints/complaint_detail.html", {
            "complaint": complaint,
            "events": list(selectors.complaint_events_for(complaint=complaint)),
            "attachments": list(complaint.attachments.all()),
            "actions": actions,
            "can_handle": can_handle,
            "via_share": complaint.via_share,
            "can_share": serves and permissions.can_share_complaint(user, complaint),
            "now": timezone.now(),
            "identifier_form": CustomerIdentifierForm(),
            "attachment_form": ComplaintAttachmentForm() if can_handle else None,
            "match_suggestions": (matching.complaint_match_suggestions(complaint=complaint, user=request.user)
                                  if can_handle else []),
        })
        add_never_cache_headers(response)
        return response


class ComplaintShareView(LoginRequiredMixin, View):
    """Share the complaint with a named colleague until a day, and see or end the shares in force."""

    def get(self, request: HttpRequest, reference: str) -> HttpResponse:
        complaint = self._authorized_complaint(request, reference)
        return self._render(request, complaint=complaint, form=self._form(request))

    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        complaint = self._authorized_complaint(request, reference)
        form = self._form(request, data=request.POST)
        if form.is_valid():
            try:
                share = services.complaint_share(complaint=complaint, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("%(name)s can open this complaint until %(ends_on)s.") % {
                    "name": share.shared_with.display_name,
                    "ends_on": share.ends_on.isoformat(),
                })
                return redirect("complaints:complaint-share", reference=complaint.reference)
        return self._render(request, complaint=complaint, form=form, status=400)

    @staticmethod
    def _authorized_complaint(request: HttpRequest, reference: str) -> Complaint:
        """A complaint of the user's own scope (a share is never passed on) they may share; 404 before 403."""
        _require(permissions.can_view_complaints, request.user)
        complaint = _complaint_or_404(request.user, reference)
        _require(lambda user: permissions.can_share_complaint(user, complaint), request.user)
        return complaint

    @staticmethod
    def _form(request: HttpRequest, data=None) -> RecordShareForm:
        return RecordShareForm(data, colleague_queryset=account_selectors.share_colleague_candidates(user=request.user))

    @staticmethod
    def _render(request: HttpRequest, *, complaint: Complaint, form: RecordShareForm,
                status: int = 200) -> HttpResponse:
        shares = []
        for share in account_selectors.record_shares_active_for(record=complaint):
            share.revoke_url = reverse("complaints:complaint-share-revoke", args=[complaint.reference, share.pk])
            shares.append(share)
        context = {"complaint": complaint, "form": form, "shares": shares, "max_days": RecordShare.MAX_DAYS}
        response = render(request, "complaints/complaint_share.html", context, status=status)
        add_never_cache_headers(response)
        return response


class ComplaintShareRevokeView(LoginRequiredMixin, View):
    """End one share of the complaint now (POST only)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, reference: str, share_id: int) -> HttpResponse:
        _require(permissions.can_view_complaints, request.user)
        complaint = _complaint_or_404(request.user, reference)
        try:
            share = account_selectors.record_shares_active_for(record=complaint).get(pk=share_id)
        except RecordShare.DoesNotExist as error:
            raise Http404 from error
        services.complaint_share_revoke(complaint=complaint, share=share, by=request.user)
        messages.success(request, _("The share was revoked."))
        return redirect("complaints:complaint-share", reference=complaint.reference)


class ComplaintTransitionView(LoginRequiredMixin, View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        complaint = _complaint_or_404(user, reference)
        _require(permissions.can_handle_complaints, user)
        form = ComplaintTransitionForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("The request was incomplete; reload the page and try again."))
            return redirect("complaints:complaint-detail", reference=reference)
        try:
            services.complaint_transition(complaint=complaint, by=user, **form.cleaned_data)
        except ApplicationError as error:
            messages.error(request, error.message)
            for field_messages in error.field_errors.values():
                for message in field_messages:
                    if str(message) != error.message:
                        messages.error(request, str(message))
        else:
            messages.success(request, _("Done: %(action)s.") % {
                "action": ComplaintAction(form.cleaned_data["action"]).label})
        return redirect("complaints:complaint-detail", reference=reference)


class ComplaintLinkCustomerView(LoginRequiredMixin, View):
    """Identify the customer behind a walk-in or online complaint (exact ID / phone search, then link)."""

    http_method_names = ["post"]

    @method_decorator(sensitive_post_parameters("id_number", "phone"))
    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        complaint = _complaint_or_404(user, reference)
        _require(permissions.can_handle_complaints, user)
        if request.POST.get("customer_id"):
            customer = ComplaintCreateView._selected_customer(request, request.POST["customer_id"])
            services.complaint_link_customer(complaint=complaint, customer=customer, by=user)
            messages.success(request, _("The complaint is now linked to the customer."))
            return redirect("complaints:complaint-detail", reference=reference)
        identifier_form = CustomerIdentifierForm(request.POST)
        results = None
        if identifier_form.is_valid():
            results = customer_services.customer_identifier_search(
                user=user, id_number=identifier_form.cleaned_data["id_number"] or None,
                phone=identifier_form.cleaned_data["phone"] or None, limit=CUSTOMER_RESULTS_MAX)
        response = render(request, "complaints/complaint_link.html", {
            "complaint": complaint, "identifier_form": identifier_form, "results": results})
        add_never_cache_headers(response)
        return response


class ComplaintAttachmentAddView(LoginRequiredMixin, View):
    """The desk adds a file to a complaint at any stage (complaints.services.complaint_attachment_add)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        complaint = _complaint_or_404(user, reference)
        _require(permissions.can_handle_complaints, user)
        form = ComplaintAttachmentForm(request.POST, request.FILES)
        if not form.is_valid():
            messages.error(request, _("Choose a file to attach."))
        else:
            try:
                services.complaint_attachment_add(complaint=complaint, upload=form.cleaned_data["attachment"], by=user)
            except ApplicationError as error:
                for field_messages in error.field_errors.values() or [[error.message]]:
                    for message in field_messages:
                        messages.error(request, str(message))
            else:
                messages.success(request, _("The file is attached."))
        return redirect("complaints:complaint-detail", reference=reference)


class ComplaintConfirmMatchView(LoginRequiredMixin, View):
    """One click: link the complaint to the customer complaints.matching suggested (audited with the basis)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaints, user)
        complaint = _complaint_or_404(user, reference)
        _require(permissions.can_handle_complaints, user)
        wanted = request.POST.get("customer_id", "")
        suggestion = next((s for s in matching.complaint_match_suggestions(complaint=complaint, user=user)
                           if str(s.customer.pk) == wanted), None)
        if suggestion is None:
            messages.error(request, _("That customer is not a suggested match; search for the customer instead."))
            return redirect("complaints:complaint-detail", reference=reference)
        services.complaint_link_customer(complaint=complaint, customer=suggestion.customer, by=user,
                                         matched_by=suggestion.basis)
        messages.success(request, _("The complaint is now linked to the customer."))
        return redirect("complaints:complaint-detail", reference=reference)


class ComplaintAttachmentView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest, reference: str, attachment_id: int) -> HttpResponse:
        _require(permissions.can_view_complaints, request.user)
        complaint = _complaint_or_404(request.user, reference)
        attachment = complaint.attachments.filter(pk=attachment_id).first()
        if attachment is None:
            raise Http404
        response = FileResponse(attachment.file.open("rb"), as_attachment=True, filename=attachment.original_name,
                                content_type=attachment.content_type or "application/octet-stream")
        add_never_cache_headers(response)
        return response


class ComplaintHotspotView(LoginRequiredMixin, View):
    """Hot spots: complaints by category / branch / product / channel, trend, root causes, SLA compliance."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_complaint_hotspots, user)
        form = HotspotFilterForm(request.GET)
        form.is_valid()
        dimension, start, end = form.period()
        if not form.errors:  # show the period applied (the default one too) in the date fields
            form = HotspotFilterForm({"dimension": dimension, "start": start.isoformat(), "end": end.isoformat()})
            form.is_valid()
        report = selectors.complaint_hotspots(user=user, dimension=dimension, start=start, end=end)
        for row in report["rows"]:
            row.drill_query = self._drill_query(dimension, row.key, start, end)
        chart_rows = report["rows"][:12]
        chart = {
            "labels": [row.label for row in chart_rows],
            "current": [row.count for row in chart_rows],
            "previous": [row.previous_count for row in chart_rows],
            "current_label": _("This period"),
            "previous_label": _("Previous period"),
        }
        return render(request, "complaints/complaint_hotspots.html", {
            "form": form, "report": report, "chart": chart,
            "dimension_label": dict(form.fields["dimension"].choices).get(dimension),
        })

    @staticmethod
    def _drill_query(dimension: str, key, start, end) -> str:
        params = {"status": "", "received_from": start.isoformat(), "received_to": end.isoformat()}
        if key is not None:
            params[dimension] = key
        return "?" + urlencode(params)

