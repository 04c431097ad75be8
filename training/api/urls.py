from django.urls import path

from training.api import views

app_name = "training-api"

urlpatterns = [
    path("training/records/", views.TrainingRecordListApi.as_view(), name="record-list"),
]
