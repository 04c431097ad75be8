from django.urls import path

from service import views

app_name = "service-public"

urlpatterns = [
    # Where a survey link lands after its token was exchanged for the session (no token in the URL).
    path("answer/", views.SurveyAnswerView.as_view(), name="survey-answer-session"),
    # Any string reaches the view, so a malformed token gets the same page as an unknown one.
    path("<str:token>/", views.SurveyAnswerView.as_view(), name="survey-answer"),
]
