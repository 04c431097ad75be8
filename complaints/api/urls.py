from django.urls import path

from complaints.api import views

app_name = "complaints-api"

urlpatterns = [
    path("complaints/", views.ComplaintListCreateApi.as_view(), name="complaint-list"),
    path("complaints/<str:reference>/", views.ComplaintRetrieveApi.as_view(), name="complaint-detail"),
    path("complaints/<str:reference>/transitions/", views.ComplaintTransitionApi.as_view(),
         name="complaint-transitions"),
]
