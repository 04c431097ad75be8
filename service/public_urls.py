from django.urls import path

from service import views

app_name = "service-public"

urlpatterns = [
    # Any string reaches the view, so a malformed token gets the same page as an unknown one.
    path("<str:token>/", views.SurveyAnswerView.as_view(), name="survey-answer"),
]
