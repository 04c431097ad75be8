"""Segmentation endpoints: a customer's classes, tier, CLV and recommendations; the tier list.

Scope ``segments:read`` for API keys (a key limited to a branch sees that branch); staff who may
view customers read through their customer scope. A customer outside the scope is a 404.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope
from core.api import path_id_or_404
from core.api.pagination import KeysetPagination
from customers import services as customer_services
from customers.models import Customer
from segmentation import selectors
from segmentation.api.serializers import CustomerSegmentOutput, SegmentListItemOutput, SegmentListQueryInput

SegmentsRead = permissions.require_scopes(read=ApiScope.SEGMENTS_READ.value, staff_read=permissions.can_view_customers)

FIGURE_FIELDS = ("amount_cny", "transaction_count", "service_count", "last_transaction_at", "assets_cny",
                 "large_movements", "monthly_outflow_cny", "account_changes", "credit_rating")


class CustomerSegmentRetrieveApi(APIView):
    permission_classes = [SegmentsRead]

    @extend_schema(
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH, description="The CRM customer id.")],
        responses=CustomerSegmentOutput, summary="A customer's classes, tier, CLV and recommendations",
    )
    def get(self, request, customer_id: str):
        customer_id = path_id_or_404(customer_id)
        try:
            customer = selectors.customer_get_visible_to(principal=request.user, customer_id=customer_id)
        except Customer.DoesNotExist as error:
            customer_services.customer_out_of_scope_record(user=request.user, customer_id=customer_id)
            raise Http404 from error
        segment = selectors.segment_for(customer=customer)
        if segment is None:
            raise Http404
        data = {
            "customer_id": customer.pk,
            "tier": segment.tier,
            "computed_tier": segment.computed_tier,
            "overridden": segment.override is not None,
            "value_class": segment.value_class,
            "value_rule": segment.value_rule,
            "behaviour_class": segment.behaviour_class,
            "behaviour_rule": segment.behaviour_rule,
            "risk_class": segment.risk_class,
            "risk_points": segment.risk_points,
            "policy": segment.policy,
            "as_of": segment.as_of,
            "figures": {name: (None if getattr(segment, name) is None else str(getattr(segment, name)))
                        for name in FIGURE_FIELDS},
            "clv": {"clv_cny": str(segment.clv_cny), "annual_margin_cny": str(segment.annual_margin_cny),
                    "retention_pct": str(segment.retention_pct),
                    "discount_rate_pct": str(segment.policy.discount_rate_pct),
                    "horizon_years": str(segment.policy.clv_horizon_years)},
            "recommendations": selectors.recommendation_list_for(customer=customer),
        }
        return Response(CustomerSegmentOutput(data).data)


class SegmentPagination(KeysetPagination):
    ordering = ("customer_id",)


class SegmentListApi(APIView):
    permission_classes = [SegmentsRead]
    pagination_class = SegmentPagination

    @extend_schema(
        parameters=[SegmentListQueryInput],
        responses=SegmentListItemOutput(many=True),
        summary="Customer ids with their tier and classes, in customer id order, filterable by tier",
    )
    def get(self, request):
        query = SegmentListQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        segments = selectors.segment_list_for_api(principal=request.user, tier=query.validated_data.get("tier"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(segments, request, view=self)
        return paginator.get_paginated_response(SegmentListItemOutput(page, many=True).data)
