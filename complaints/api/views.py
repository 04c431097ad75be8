"""Complaint endpoints for the call centre and the mobile app: create, list, read, transitions.

Parse → authorize → one call → render (STYLE §6). Scopes and role predicates through
accounts.permissions.require_scopes; row scope through complaints.selectors (404 outside it).
"""

from __future__ import annotations

from django.db.models import Q
from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope, Branch
from complaints import selectors, services
from complaints.api.serializers import (
    ComplaintCreateInput,
    ComplaintDetailOutput,
    ComplaintListFilterInput,
    ComplaintOutput,
    ComplaintTransitionInput,
)
from complaints.models import Complaint, ComplaintCategory
from core.api.pagination import KeysetPagination
from core.errors import ApplicationError
from core.idempotency import idempotent
from customers import selectors as customer_selectors
from customers.models import Customer, Product

ComplaintPermission = permissions.require_scopes(
    read=ApiScope.COMPLAINTS_READ, write=ApiScope.COMPLAINTS_WRITE,
    staff_read=permissions.can_view_complaints, staff_write=permissions.can_handle_complaints,
)


class ComplaintPagination(KeysetPagination):
    ordering = ("-received_at", "-id")


def _complaint_or_404(principal, reference: str) -> Complaint:
    if "\x00" in reference:
        raise Http404  # no reference holds NUL, and PostgreSQL refuses it in a query (a 500)
    try:
        return selectors.complaint_get_visible_to(user=principal, reference=reference)
    except Complaint.DoesNotExist as error:
        raise Http404 from error


def _with_timeline(complaint: Complaint) -> Complaint:
    complaint.timeline = list(selectors.complaint_events_for(complaint=complaint))
    return complaint


def _customer_for(principal, customer_id: int) -> Customer:
    """The customer, within the caller's scope (customers' selector; accounts.scope decides)."""
    customer = customer_selectors.customer_list_visible_to(user=principal).filter(pk=customer_id).first()
    if customer is None:
        raise ApplicationError.invalid(_("No such customer."), field="customer_id")
    return customer


class ComplaintListCreateApi(APIView):
    permission_classes = [ComplaintPermission]
    pagination_class = ComplaintPagination

    @extend_schema(parameters=[ComplaintListFilterInput], responses=ComplaintOutput(many=True),
                   summary="Complaints the caller may see, newest first, with filters")
    def get(self, request):
        filters = ComplaintListFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        complaints = selectors.complaint_list_visible_to(user=request.user)
        if data.get("status") == "open":
            complaints = complaints.open()
        elif data.get("status"):
            complaints = complaints.filter(status=data["status"])
        if data.get("branch"):
            complaints = complaints.filter(branch__code=data["branch"])
        if data.get("category"):
            complaints = complaints.filter(Q(category__code=data["category"])
                                           | Q(category__parent__code=data["category"]))
        for name in ("severity", "channel", "customer_id"):
            if data.get(name) is not None:
                complaints = complaints.filter(**{name: data[name]})
        complaints = selectors.complaints_received_between(complaints, start=data.get("received_from"),
                                                           end=data.get("received_to"))
        if data.get("breached") is True:
            complaints = complaints.breached()
        elif data.get("breached") is False:
            complaints = complaints.filter(first_response_breached_at__isnull=True,
                                           resolution_breached_at__isnull=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(complaints, request, view=self)
        return paginator.get_paginated_response(ComplaintOutput(page, many=True).data)

    @extend_schema(request=ComplaintCreateInput, responses={201: ComplaintOutput},
                   summary="Log a complaint (call centre, mobile app)",
                   examples=[OpenApiExample("Walk-in complainant", request_only=True, value={
                       "branch": "B0101", "channel": "branch", "category": "B0302", "severity": "medium",
                       "contact_name": "张伟", "contact_phone": "13800001234",
                       "description": "ATM 吞卡后三天未退回"})])
    @idempotent
    def post(self, request):
        data_in = ComplaintCreateInput(data=request.data)
        data_in.is_valid(raise_exception=True)
        data = data_in.validated_data
        principal = request.user
        customer = _customer_for(principal, data["customer_id"]) if data.get("customer_id") else None
        branch = self._branch(principal, data.get("branch"), customer)
        category = ComplaintCategory.objects.filter(code=data["category"]).first()
        if category is None:
            raise ApplicationError.invalid(_("Unknown category code."), field="category")
        product = None
        if data.get("product"):
            product = Product.objects.filter(code=data["product"]).first()
            if product is None:
                raise ApplicationError.invalid(_("Unknown product code."), field="product")
        complaint = services.complaint_create(
            by=principal, branch=branch, customer=customer, contact_name=data.get("contact_name", ""),
            contact_phone=data.get("contact_phone", ""), channel=data["channel"], category=category,
            severity=data["severity"], product=product, description=data["description"],
            received_at=data.get("received_at"),
        )
        return Response(ComplaintOutput(complaint).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _branch(principal, code: str | None, customer: Customer | None) -> Branch:
        if code:
            branch = Branch.objects.filter(code=code).first()
            if branch is None:
                raise ApplicationError.invalid(_("Unknown branch code."), field="branch")
        elif customer is not None:
            branch = customer.branch
        else:
            branch = Branch.objects.filter(pk=principal.branch_id).first() if principal.branch_id else None
            if branch is None:
                raise ApplicationError.invalid(_("Name the branch for a complaint without a customer."),
                                               field="branch")
        return branch  # complaint_create checks the caller may log for it


class ComplaintRetrieveApi(APIView):
    permission_classes = [ComplaintPermission]

    @extend_schema(responses=ComplaintDetailOutput, summary="One complaint with its status, SLA and timeline")
    def get(self, request, reference: str):
        complaint = _complaint_or_404(request.user, reference)
        return Response(ComplaintDetailOutput(_with_timeline(complaint)).data)


class ComplaintTransitionApi(APIView):
    permission_classes = [ComplaintPermission]

    @extend_schema(request=ComplaintTransitionInput, responses={200: ComplaintDetailOutput},
                   examples=[OpenApiExample("Acknowledge", request_only=True, value={
                       "action": "acknowledge", "note": "已致电客户", "expected_version": 1})],
                   summary="Move a complaint: acknowledge, investigate, escalate, resolve, close, reopen "
                           "(409 for a step the status does not allow or a stale expected_version)")
    @idempotent
    def post(self, request, reference: str):
        complaint = _complaint_or_404(request.user, reference)
        data_in = ComplaintTransitionInput(data=request.data)
        data_in.is_valid(raise_exception=True)
        complaint = services.complaint_transition(complaint=complaint, by=request.user, **data_in.validated_data)
        complaint = _complaint_or_404(request.user, complaint.reference)
        return Response(ComplaintDetailOutput(_with_timeline(complaint)).data)
