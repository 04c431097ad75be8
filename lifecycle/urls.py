from django.urls import path

from lifecycle import views

app_name = "lifecycle"

urlpatterns = [
    path("", views.LifecycleOverviewView.as_view(), name="overview"),
    path("at-risk/", views.AtRiskListView.as_view(), name="at-risk"),
    path("tasks/<int:task_id>/record/", views.RetentionTaskRecordView.as_view(), name="task-record"),
    path("models/", views.ChurnModelListView.as_view(), name="models"),
    path("models/runs/", views.ScoringRunProgressView.as_view(), name="run-progress"),
    path("models/<int:model_id>/activate/", views.ChurnModelActivateView.as_view(), name="model-activate"),
]
