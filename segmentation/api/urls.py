from django.urls import path  # noqa: F401  (routes arrive with the segmentation resources)

app_name = "segmentation-api"

urlpatterns: list = []
