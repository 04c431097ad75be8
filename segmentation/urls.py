from django.urls import path  # noqa: F401  (pages arrive with the segmentation feature)

app_name = "segmentation"

urlpatterns: list = []
