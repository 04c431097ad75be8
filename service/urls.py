from django.urls import path  # noqa: F401  (pages arrive with the service feature)

app_name = "service"

urlpatterns: list = []
