"""Read access to initiatives and RM scorecards for other bank systems (HR, the board portal) and staff."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope
from core.api.pagination import KeysetPagination
from improvement import permissions as improvement_permissions
from improvement import selectors
from improvement.api.serializers import (
    InitiativeOutput,
    InitiativeQueryInput,
    ScorecardOutput,
    ScorecardQueryInput,
)

InitiativeReadPermission = permissions.require_scopes(read=ApiScope.IMPROVEMENT_READ,
                                                      staff_read=improvement_permissions.can_view_improvement)
ScorecardReadPermission = permissions.require_scopes(read=ApiScope.IMPROVEMENT_READ,
                                                     staff_read=improvement_permissions.can_view_scorecards)


class InitiativePagination(KeysetPagination):
    ordering = ("-created_at", "-id")


class ScorecardPagination(KeysetPagination):
    ordering = ("-period_start", "id")


class InitiativeListApi(APIView):
    permission_classes = [InitiativeReadPermission]
    pagination_class = InitiativePagination

    @extend_schema(parameters=[InitiativeQueryInput], responses=InitiativeOutput(many=True),
                   summary="PDCA initiatives the caller may see, with KPI baseline, target, measured value and verdict")
    def get(self, request):
        filters = InitiativeQueryInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        initiatives = selectors.initiative_list_visible_to(principal=request.user)
        if filters.validated_data.get("phase"):
            initiatives = initiatives.filter(phase=filters.validated_data["phase"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(initiatives, request, view=self)
        return paginator.get_paginated_response(InitiativeOutput(page, many=True).data)


class ScorecardListApi(APIView):
    permission_classes = [ScorecardReadPermission]
    pagination_class = ScorecardPagination

    @extend_schema(parameters=[ScorecardQueryInput], responses=ScorecardOutput(many=True),
                   summary="RM scorecards the caller may see (an RM their own, a manager the branch)")
    def get(self, request):
        filters = ScorecardQueryInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        cards = selectors.scorecard_list_visible_to(principal=request.user, period_kind=data["period_kind"],
                                                    period_start=data.get("period_start"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(cards, request, view=self)
        return paginator.get_paginated_response(ScorecardOutput(page, many=True).data)
