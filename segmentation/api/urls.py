from django.urls import path

from segmentation.api import views

app_name = "segmentation-api"

urlpatterns = [
    path("customers/<str:customer_id>/segment/", views.CustomerSegmentRetrieveApi.as_view(), name="customer-segment"),
    path("segments/", views.SegmentListApi.as_view(), name="segment-list"),
]
