from django.urls import path

from service import views

app_name = "service"

urlpatterns = [
    path("report/", views.ServiceReportView.as_view(), name="service-report"),
    path("follow-ups/", views.FollowUpListView.as_view(), name="follow-up-list"),
    path("follow-ups/<int:task_id>/finish/", views.FollowUpFinishView.as_view(), name="follow-up-finish"),
    path("responses/<int:response_id>/", views.SurveyResponseDetailView.as_view(), name="response-detail"),
    path(
        "customers/<int:customer_id>/history/",
        views.CustomerServiceHistoryView.as_view(),
        name="customer-service-history",
    ),
    path(
        "customers/<int:customer_id>/records/new/",
        views.ServiceRecordCreateView.as_view(),
        name="service-record-create",
    ),
]
