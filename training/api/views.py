"""Read access to training records for other bank systems (HR, the LMS) and staff."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope
from core.api.pagination import KeysetPagination
from training import permissions as training_permissions
from training import selectors
from training.api.serializers import TrainingRecordOutput, TrainingRecordQueryInput

TrainingReadPermission = permissions.require_scopes(read=ApiScope.TRAINING_READ,
                                                    staff_read=training_permissions.can_learn)


class TrainingRecordPagination(KeysetPagination):
    ordering = ("-due_on", "-id")


class TrainingRecordListApi(APIView):
    permission_classes = [TrainingReadPermission]
    pagination_class = TrainingRecordPagination

    @extend_schema(parameters=[TrainingRecordQueryInput], responses=TrainingRecordOutput(many=True),
                   summary="Training records (enrolments with test scores and knowledge gain) the caller may see")
    def get(self, request):
        filters = TrainingRecordQueryInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        records = selectors.enrolment_list_visible_to(principal=request.user)
        if data.get("course"):
            records = records.filter(course__code=data["course"])
        if data.get("completed") is True:
            records = records.filter(completed_at__isnull=False)
        elif data.get("completed") is False:
            records = records.filter(completed_at__isnull=True)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(records, request, view=self)
        return paginator.get_paginated_response(TrainingRecordOutput(page, many=True).data)
