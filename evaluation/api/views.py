"""KPI and report endpoints for the data warehouse (read only). Parse -> authorize -> one call -> render."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope
from core.api import path_id_or_404
from core.api.pagination import KeysetPagination
from evaluation import selectors, services
from evaluation.api.serializers import (
    KpiDefinitionOutput,
    KpiSnapshotFilterInput,
    KpiSnapshotOutput,
    ReportDetailOutput,
    ReportOutput,
)
from evaluation.models import KpiSnapshot, Report

KpiPermission = permissions.require_scopes(read=ApiScope.KPIS_READ, staff_read=permissions.can_view_kpis)
ReportPermission = permissions.require_scopes(read=ApiScope.REPORTS_READ, staff_read=permissions.can_view_reports)


class KpiDefinitionPagination(KeysetPagination):
    ordering = ("position", "code")


class SnapshotPagination(KeysetPagination):
    ordering = ("-period_start", "id")


class ReportPagination(KeysetPagination):
    ordering = ("-period_start", "id")


class KpiDefinitionListApi(APIView):
    permission_classes = [KpiPermission]
    pagination_class = KpiDefinitionPagination

    @extend_schema(responses=KpiDefinitionOutput(many=True), summary="Every KPI with its formula and target versions")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.kpi_definition_list(), request, view=self)
        return paginator.get_paginated_response(KpiDefinitionOutput(page, many=True).data)


class KpiSnapshotListApi(APIView):
    permission_classes = [KpiPermission]
    pagination_class = SnapshotPagination

    @extend_schema(parameters=[KpiSnapshotFilterInput], responses=KpiSnapshotOutput(many=True),
                   summary="KPI snapshots the caller may see, newest period first")
    def get(self, request):
        filters = KpiSnapshotFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        snapshots = selectors.kpi_snapshots_visible_to(principal=request.user).select_related("branch")
        if data.get("kpi"):
            snapshots = snapshots.filter(kpi__code=data["kpi"])
        for name in ("period_kind", "period_start", "scope"):
            if data.get(name):
                snapshots = snapshots.filter(**{name: data[name]})
        if data.get("branch"):
            snapshots = snapshots.filter(branch__code=data["branch"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(snapshots, request, view=self)
        return paginator.get_paginated_response(KpiSnapshotOutput(page, many=True).data)


class KpiSnapshotRetrieveApi(APIView):
    permission_classes = [KpiPermission]

    @extend_schema(parameters=[OpenApiParameter("snapshot_id", int, OpenApiParameter.PATH)],
                   responses=KpiSnapshotOutput, summary="One KPI snapshot")
    def get(self, request, snapshot_id: str):
        try:
            snapshot = selectors.kpi_snapshots_visible_to(principal=request.user).get(pk=path_id_or_404(snapshot_id))
        except KpiSnapshot.DoesNotExist as error:
            raise Http404 from error
        return Response(KpiSnapshotOutput(snapshot).data)


class ReportListApi(APIView):
    permission_classes = [ReportPermission]
    pagination_class = ReportPagination

    @extend_schema(responses=ReportOutput(many=True), summary="Periodic reports the caller may see")
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.report_list_visible_to(principal=request.user), request,
                                           view=self)
        return paginator.get_paginated_response(ReportOutput(page, many=True).data)


REPORT_ID_PARAMETER = OpenApiParameter("report_id", int, OpenApiParameter.PATH)


def _report_or_404(principal, report_id: str) -> Report:
    try:
        return selectors.report_get_visible_to(principal=principal, report_id=path_id_or_404(report_id))
    except Report.DoesNotExist as error:
        raise Http404 from error


class ReportRetrieveApi(APIView):
    permission_classes = [ReportPermission]

    @extend_schema(parameters=[REPORT_ID_PARAMETER], responses=ReportDetailOutput,
                   summary="One report with its content (figures, conclusions)")
    def get(self, request, report_id: str):
        return Response(ReportDetailOutput(_report_or_404(request.user, report_id)).data)


class ReportDownloadApi(APIView):
    permission_classes = [ReportPermission]
    CONTENT_TYPES = {"pdf": "application/pdf",
                     "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

    @extend_schema(responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
                              (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"):
                                  OpenApiResponse(OpenApiTypes.BINARY)},
                   parameters=[REPORT_ID_PARAMETER,
                               OpenApiParameter("file_format", str, OpenApiParameter.PATH, enum=["pdf", "xlsx"])],
                   summary="The report's PDF or XLSX (audited)")
    def get(self, request, report_id: str, file_format: str):
        if file_format not in self.CONTENT_TYPES:
            raise Http404
        report = _report_or_404(request.user, report_id)
        data = report.pdf if file_format == "pdf" else report.xlsx
        if data is None:
            raise Http404
        services.report_download_record(report=report, file_format=file_format, by=request.user)
        response = HttpResponse(bytes(data), content_type=self.CONTENT_TYPES[file_format])
        response["Content-Disposition"] = f'attachment; filename="report-{report.pk}.{file_format}"'
        return response
