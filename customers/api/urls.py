from django.urls import path  # noqa: F401  (routes arrive with the customers resources)

app_name = "customers-api"

urlpatterns: list = []
