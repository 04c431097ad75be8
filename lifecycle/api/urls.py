from django.urls import path

from lifecycle.api import views

app_name = "lifecycle-api"

urlpatterns = [
    path("customers/<str:customer_id>/lifecycle/", views.CustomerLifecycleRetrieveApi.as_view(),
         name="customer-lifecycle"),
    path("churn-scores/", views.ChurnScoreListApi.as_view(), name="churn-score-list"),
    path("retention-tasks/", views.RetentionTaskListApi.as_view(), name="retention-task-list"),
    path("retention-tasks/<str:task_id>/record/", views.RetentionTaskRecordApi.as_view(),
         name="retention-task-record"),
]
