from django.urls import path

from training import views

app_name = "training"

urlpatterns = [
    path("", views.MyTrainingView.as_view(), name="my-training"),
    path("courses/<int:course_id>/", views.CourseDetailView.as_view(), name="course-detail"),
    path("courses/<int:course_id>/modules/<int:module_id>/", views.ModuleView.as_view(), name="module-detail"),
    path("courses/<int:course_id>/modules/<int:module_id>/file/", views.ModuleFileView.as_view(),
         name="module-file"),
    path("courses/<int:course_id>/tests/<str:stage>/", views.TestView.as_view(), name="test"),
    path("attempts/<int:attempt_id>/", views.AttemptDetailView.as_view(), name="attempt-detail"),
    path("enrolments/", views.EnrolmentManageView.as_view(), name="enrolment-manage"),
    path("sessions/", views.SessionListView.as_view(), name="session-list"),
    path("sessions/<int:session_id>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("kpis/", views.TrainingKpiView.as_view(), name="kpis"),
]
