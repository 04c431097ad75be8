from django.urls import path

from service.api import views

app_name = "service-api"

urlpatterns = [
    path("survey-responses/", views.SurveyResponseListApi.as_view(), name="survey-response-list"),
    path("service-records/", views.ServiceRecordListCreateApi.as_view(), name="service-record-list"),
]
