from django.urls import path  # noqa: F401  (public pages arrive with the service feature)

app_name = "service-public"

urlpatterns: list = []
