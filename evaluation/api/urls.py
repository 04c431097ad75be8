from django.urls import path

from evaluation.api import views

app_name = "evaluation-api"

urlpatterns = [
    path("kpis/", views.KpiDefinitionListApi.as_view(), name="kpi-list"),
    path("kpi-snapshots/", views.KpiSnapshotListApi.as_view(), name="kpi-snapshot-list"),
    path("kpi-snapshots/<str:snapshot_id>/", views.KpiSnapshotRetrieveApi.as_view(), name="kpi-snapshot-detail"),
    path("reports/", views.ReportListApi.as_view(), name="report-list"),
    path("reports/<str:report_id>/", views.ReportRetrieveApi.as_view(), name="report-detail"),
    path("reports/<str:report_id>/download/<str:file_format>/", views.ReportDownloadApi.as_view(),
         name="report-download"),
]
