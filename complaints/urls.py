from django.urls import path  # noqa: F401  (pages arrive with the complaints feature)

app_name = "complaints"

urlpatterns: list = []
