from django.urls import path

from segmentation import views

app_name = "segmentation"

urlpatterns = [
    path("", views.SegmentOverviewView.as_view(), name="segment-overview"),
    path("customers/", views.SegmentCustomerListView.as_view(), name="segment-customer-list"),
    path("customers/<int:customer_id>/override/", views.SegmentOverrideProposeView.as_view(),
         name="override-propose"),
    path("customers/<int:customer_id>/recommendations/<int:recommendation_id>/feedback/",
         views.RecommendationFeedbackView.as_view(), name="recommendation-feedback"),
    path("recommendations/", views.RecommendationContactListView.as_view(), name="recommendation-contact-list"),
    path("overrides/", views.SegmentOverrideListView.as_view(), name="override-list"),
    path("overrides/<int:override_id>/decide/", views.SegmentOverrideDecideView.as_view(), name="override-decide"),
]
