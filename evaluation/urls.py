from django.urls import path

from evaluation import views

app_name = "evaluation"

urlpatterns = [
    path("", views.KpiListView.as_view(), name="kpi-list"),
    path("kpis/<slug:code>/", views.KpiDetailView.as_view(), name="kpi-detail"),
    path("reports/", views.ReportListView.as_view(), name="report-list"),
    path("reports/<int:report_id>/", views.ReportDetailView.as_view(), name="report-detail"),
    path("reports/<int:report_id>/download.<str:file_format>", views.ReportDownloadView.as_view(),
         name="report-download"),
    path("reports/<int:report_id>/regenerate/", views.ReportRegenerateView.as_view(), name="report-regenerate"),
    path("inbox/", views.InboxView.as_view(), name="inbox"),
    path("inbox/badge/", views.InboxBadgeView.as_view(), name="inbox-badge"),
    path("export/<slug:list_key>/", views.ListExportView.as_view(), name="list-export"),
]
