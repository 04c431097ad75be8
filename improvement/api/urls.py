from django.urls import path

from improvement.api import views

app_name = "improvement-api"

urlpatterns = [
    path("improvement/initiatives/", views.InitiativeListApi.as_view(), name="initiative-list"),
    path("improvement/scorecards/", views.ScorecardListApi.as_view(), name="scorecard-list"),
]
