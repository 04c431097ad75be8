from django.urls import path  # noqa: F401  (routes arrive with the complaints resources)

app_name = "complaints-api"

urlpatterns: list = []
