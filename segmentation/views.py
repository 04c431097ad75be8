"""Staff pages for classification and tiering: parse → authorize → one call → render (STYLE.md §6).

Per-customer pages fetch the customer through the scoped selector first, so a customer outside
the viewer's scope is a 404 (audited), before any role check that could answer 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views import View

from accounts import permissions
from accounts.models import User
from core.errors import ApplicationError
from core.forms import form_add_application_error
from core.pagination import UncountedPage, page_number
from customers import consent as customer_consent
from customers import services as customer_services
from customers.models import ContactChannel, Customer
from segmentation import selectors, services
from segmentation.forms import (
    RecommendationFeedbackForm,
    SegmentFilterForm,
    SegmentOverrideDecideForm,
    SegmentOverrideProposeForm,
)
from segmentation.models import (
    BehaviourClass,
    Recommendation,
    RiskClass,
    SegmentOverride,
    Tier,
    ValueClass,
)

CUSTOMER_PAGE_SIZE = 50
OVERRIDE_PAGE_SIZE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")


def _customer_or_404(user: User, customer_id: int) -> Customer:
    try:
        return selectors.customer_get_visible_to(principal=user, customer_id=customer_id)
    except Customer.DoesNotExist as error:
        customer_services.customer_out_of_scope_record(user=user, customer_id=customer_id)
        raise Http404 from error


TIER_ORDER = [Tier.VIP, Tier.IMPORTANT, Tier.GENERAL]
CLASS_COLUMNS = [
    ("value_class", ValueClass),
    ("behaviour_class", BehaviourClass),
    ("risk_class", RiskClass),
]


class SegmentOverviewView(LoginRequiredMixin, View):
    """Counts per tier and class per branch, the movement since the last run, links to the customers."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_segments(user):
            raise PermissionDenied
        overview = selectors.segment_overview(user=user)
        columns = [("tier", tier.value, tier.label) for tier in TIER_ORDER] + [
            (name, choice.value, choice.label) for name, choices in CLASS_COLUMNS for choice in choices
        ]
        branch_rows = [
            {"branch": row["branch"],
             "cells": [(name, value, row["counts"].get(f"{name}:{value}", 0)) for name, value, _label in columns],
             "total": row["counts"].get("total", 0)}
            for row in overview["branches"]
        ]
        totals = [(name, value, overview["totals"].get(f"{name}:{value}", 0)) for name, value, _label in columns]
        from_tiers = [("", _("not classified before"))] + [(tier.value, tier.label) for tier in TIER_ORDER]
        movement_rows = [
            {"from_label": label,
             "cells": [(tier.value, overview["movement"].get((from_value, tier.value), 0), from_value == tier.value)
                       for tier in TIER_ORDER]}
            for from_value, label in from_tiers
        ]
        moved_up = sum(count for (from_value, to_value), count in overview["movement"].items()
                       if from_value and _rank(to_value) > _rank(from_value))
        moved_down = sum(count for (from_value, to_value), count in overview["movement"].items()
                         if from_value and _rank(to_value) < _rank(from_value))
        context = {
            "columns": columns,
            "group_spans": [(_("Tier"), len(TIER_ORDER))] + [
                (label, len(choices)) for label, choices in (
                    (_("Value"), ValueClass), (_("Behaviour"), BehaviourClass), (_("Risk"), RiskClass))
            ],
            "branch_rows": branch_rows,
            "tier_chart": {
                "labels": [row["branch"].name for row in branch_rows], "stacked": True,
                "datasets": [{"label": str(tier.label),
                              "data": [dict(((n, v), c) for n, v, c in row["cells"]).get(("tier", tier.value), 0)
                                       for row in branch_rows]} for tier in TIER_ORDER],
            },
            "totals": totals,
            "grand_total": overview["totals"].get("total", 0),
            "tiers": TIER_ORDER,
            "movement_rows": movement_rows,
            "moved_up": moved_up,
            "moved_down": moved_down,
            "run": selectors.segment_run_latest(),
            "pending_overrides": (selectors.override_list_to_decide(user=user).count()
                                  if permissions.can_approve_segment_override(user) else None),
            "show_branch_links": permissions.sees_all_branches(user),
        }
        return render(request, "segmentation/segment_overview.html", context)


def _rank(tier: str) -> int:
    return {Tier.GENERAL.value: 1, Tier.IMPORTANT.value: 2, Tier.VIP.value: 3}.get(tier, 0)


class SegmentCustomerListView(LoginRequiredMixin, View):
    """The customers behind a number: filter by tier and class; each links to its 360 page."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_segment_customers(user):
            raise PermissionDenied
        form = SegmentFilterForm(request.GET)
        filters = form.filters()
        branch_id = form.cleaned_data.get("branch") if form.is_valid() else None
        page = UncountedPage(
            selectors.segment_customer_list_visible_to(user=user, filters=filters, branch_id=branch_id),
            number=page_number(request.GET.get("page")), per_page=CUSTOMER_PAGE_SIZE,
        )
        context = {
            "form": form,
            "page": page,
            "show_branch_column": permissions.sees_all_branches(user) or permissions.is_branch_manager(user),
            "can_view_overview": permissions.can_view_segments(user),
        }
        return render(request, "segmentation/segment_customer_list.html", context)


class RecommendationContactListView(LoginRequiredMixin, View):
    """Recommendations to contact: only customers with marketing consent, and the channels they allow."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_recommendations(user):
            raise PermissionDenied
        channel = request.GET.get("channel") or None
        if channel not in ContactChannel.values:
            channel = None
        page = UncountedPage(selectors.recommendation_contact_list_visible_to(user=user, channel=channel),
                             number=page_number(request.GET.get("page")), per_page=CUSTOMER_PAGE_SIZE)
        rows = list(page.object_list)
        channels = customer_consent.marketing_channels_by_customer(customer_ids=[r.customer_id for r in rows])
        context = {
            "page": page,
            "rows": [(r, [ContactChannel(c).label for c in channels.get(r.customer_id, [])]) for r in rows],
            "channel": channel or "",
            "channels": ContactChannel.choices,
        }
        return render(request, "segmentation/recommendation_contact_list.html", context)


class SegmentOverrideProposeView(LoginRequiredMixin, View):
    """An RM or branch manager proposes a manual tier with a reason and an end date (maker)."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        today = timezone.localdate()
        form = SegmentOverrideProposeForm(initial={"starts_on": today, "expires_on": today + timedelta(days=89)})
        return self._render(request, customer=customer, form=form)

    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        form = SegmentOverrideProposeForm(request.POST)
        if form.is_valid():
            try:
                services.segment_override_propose(customer=customer, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("The tier override was proposed; a branch manager will review it."))
                return redirect("customers:customer-detail", customer_id=customer.pk)
        return self._render(request, customer=customer, form=form)

    @staticmethod
    def _authorized_customer(request: HttpRequest, customer_id: int) -> Customer:
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        if not permissions.can_propose_segment_override(request.user):
            raise PermissionDenied
        return customer

    @staticmethod
    def _render(request: HttpRequest, *, customer: Customer, form) -> HttpResponse:
        context = {"customer": customer, "form": form, "segment": selectors.segment_for(customer=customer),
                   "pending": selectors.override_pending_for(customer=customer)}
        return render(request, "segmentation/override_form.html", context)


class SegmentOverrideListView(LoginRequiredMixin, View):
    """Overrides waiting for a checker: a branch manager's branch, an administrator's all."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_approve_segment_override(user):
            raise PermissionDenied
        page = UncountedPage(selectors.override_list_to_decide(user=user),
                             number=page_number(request.GET.get("page")), per_page=OVERRIDE_PAGE_SIZE)
        return render(request, "segmentation/override_list.html", {"page": page})


class SegmentOverrideDecideView(LoginRequiredMixin, View):
    """Approve or reject a proposed override (checker); never the proposer."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, override_id: int) -> HttpResponse:
        user = request.user
        if not permissions.can_approve_segment_override(user):
            raise PermissionDenied
        try:
            override = selectors.override_get_to_decide(user=user, override_id=override_id)
        except SegmentOverride.DoesNotExist as error:
            raise Http404 from error
        form = SegmentOverrideDecideForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose approve or reject."))
            return redirect("segmentation:override-list")
        decide = (services.segment_override_approve if form.cleaned_data["decision"] == "approve"
                  else services.segment_override_reject)
        try:
            decide(override_id=override.pk, by=user, note=form.cleaned_data["note"])
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("The override was approved.") if form.cleaned_data["decision"] == "approve"
                             else _("The override was rejected."))
        return redirect("segmentation:override-list")


class RecommendationFeedbackView(LoginRequiredMixin, View):
    """The RM marks a recommendation offered, accepted or declined (htmx swaps the item)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, customer_id: int, recommendation_id: int) -> HttpResponse:
        user = request.user
        if not permissions.can_view_customers(user):
            raise PermissionDenied
        customer = _customer_or_404(user, customer_id)
        try:
            recommendation = selectors.recommendation_get_visible_to(
                user=user, customer_id=customer.pk, recommendation_id=recommendation_id
            )
        except Recommendation.DoesNotExist as error:
            raise Http404 from error
        if not permissions.can_record_recommendation_feedback(user):
            raise PermissionDenied
        form = RecommendationFeedbackForm(request.POST)
        if not form.is_valid():
            return HttpResponse(_("Choose offered, accepted or declined."), status=400)
        services.recommendation_feedback_record(recommendation=recommendation,
                                                outcome=form.cleaned_data["outcome"], by=user)
        if not _is_htmx(request):
            messages.success(request, _("The feedback was recorded."))
            return redirect("customers:customer-detail", customer_id=customer.pk)
        recommendation.last_outcome = form.cleaned_data["outcome"]
        response = render(request, "segmentation/partials/recommendation_item.html", {
            "customer": customer, "recommendation": recommendation, "can_feedback": True,
        })
        add_never_cache_headers(response)
        return response
