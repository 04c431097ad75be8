"""Service endpoints: survey responses (read) and service records (create, list).

Parse → authorize → one call → render (STYLE §6); scopes and role predicates through
accounts.permissions.require_scopes, row scope through the selectors.
"""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions, scope
from accounts.models import ApiScope, User
from core.api.pagination import KeysetPagination
from core.errors import ApplicationError
from core.idempotency import idempotent
from customers.models import Customer
from service import selectors, services
from service.api.serializers import (
    ServiceRecordCreateInput,
    ServiceRecordListFilterInput,
    ServiceRecordOutput,
    SurveyResponseListFilterInput,
    SurveyResponseOutput,
)
from service.models import Touchpoint


class SurveyResponsePagination(KeysetPagination):
    ordering = ("-submitted_at", "-id")


class ServiceRecordPagination(KeysetPagination):
    ordering = ("-started_at", "-id")


def _paginated(view: APIView, request, queryset, serializer_class):
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class SurveyResponseListApi(APIView):
    permission_classes = [permissions.require_scopes(
        read=ApiScope.SURVEYS_READ, staff_read=permissions.can_view_survey_responses,
    )]
    pagination_class = SurveyResponsePagination

    @extend_schema(
        parameters=[SurveyResponseListFilterInput],
        responses=SurveyResponseOutput(many=True),
        summary="Survey responses of the customers the caller may see, newest first",
    )
    def get(self, request):
        filters = SurveyResponseListFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        responses = selectors.survey_response_list_visible_to(principal=request.user, **filters.validated_data)
        return _paginated(self, request, responses, SurveyResponseOutput)


class ServiceRecordListCreateApi(APIView):
    permission_classes = [permissions.require_scopes(
        read=ApiScope.SERVICE_READ, write=ApiScope.SERVICE_WRITE,
        staff_read=permissions.can_view_customers, staff_write=permissions.can_record_service,
    )]
    pagination_class = ServiceRecordPagination

    @extend_schema(
        parameters=[ServiceRecordListFilterInput],
        responses=ServiceRecordOutput(many=True),
        summary="Service records of the customers the caller may see, newest first",
    )
    def get(self, request):
        filters = ServiceRecordListFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        records = selectors.service_record_list_visible_to(
            principal=request.user, touchpoint=filters.validated_data.get("touchpoint")
        )
        if filters.validated_data.get("customer_number"):
            records = records.filter(customer__external_id=filters.validated_data["customer_number"])
        return _paginated(self, request, records, ServiceRecordOutput)

    @extend_schema(
        request=ServiceRecordCreateInput,
        responses={201: ServiceRecordOutput},
        summary="Record a service (a completed one sends a satisfaction survey)",
        examples=[OpenApiExample("A transfer", request_only=True, value={
            "customer_number": "C000012345", "touchpoint": "transfer", "started_at": "2026-01-05T10:00:00+08:00",
            "ended_at": "2026-01-05T10:12:00+08:00", "outcome": "completed", "steps_completed": ["Verify identity"],
            "external_ref": "QMS-20260105-0042"})],
    )
    @idempotent
    def post(self, request):
        data = ServiceRecordCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        customer = self._visible_customer(request.user, values.pop("customer_number"))
        touchpoint = Touchpoint.objects.filter(code=values.pop("touchpoint")).first()
        if touchpoint is None:
            raise ApplicationError.invalid(_("Unknown touchpoint."), field="touchpoint")
        staff = self._staff(request.user, values.pop("staff_username"))
        record = services.service_record_create(customer=customer, by=request.user, touchpoint=touchpoint,
                                                staff=staff, **values)
        return Response(ServiceRecordOutput(record).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _visible_customer(principal, customer_number: str) -> Customer:
        visible = selectors.customer_list_visible_to_principal(principal=principal)
        customer = visible.filter(external_id=customer_number).first()
        if customer is None:
            raise Http404
        return customer

    @staticmethod
    def _staff(principal, username: str) -> User | None:
        if scope.is_staff_principal(principal):
            if username and username != principal.get_username():
                raise ApplicationError.invalid(_("Signed-in staff record their own services."), field="staff_username")
            return principal
        if not username:
            return None
        staff = User.objects.filter(username=username, is_active=True).first()
        if staff is None or (principal.branch_id and staff.branch_id != principal.branch_id):
            raise ApplicationError.invalid(_("Unknown staff member."), field="staff_username")
        return staff
