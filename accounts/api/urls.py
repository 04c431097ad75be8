from django.urls import path

from accounts.api import views

app_name = "accounts-api"

urlpatterns = [
    path("me/", views.MeRetrieveApi.as_view(), name="me"),
]
