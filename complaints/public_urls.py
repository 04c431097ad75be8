from django.urls import path  # noqa: F401  (public pages arrive with the complaints feature)

app_name = "complaints-public"

urlpatterns: list = []
