from django.urls import path  # noqa: F401  (routes arrive with the service resources)

app_name = "service-api"

urlpatterns: list = []
