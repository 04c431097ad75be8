from django.urls import path

from customers import edit_views, views

app_name = "customers"

urlpatterns = [
    path("", views.CustomerListView.as_view(), name="customer-list"),
    path("data-quality/", views.DataQualityQueueView.as_view(), name="data-quality-queue"),
    path("unassigned/", views.UnassignedCustomersView.as_view(), name="unassigned"),
    path("next-steps/", views.NextStepListView.as_view(), name="next-step-list"),
    path("data-quality/<int:issue_id>/", edit_views.DataQualityIssueActionView.as_view(),
         name="data-quality-issue"),
    path("<int:customer_id>/", views.CustomerDetailView.as_view(), name="customer-detail"),
    path("<int:customer_id>/edit/", edit_views.CustomerEditView.as_view(), name="customer-edit"),
    path("<int:customer_id>/consent/", edit_views.CustomerConsentView.as_view(), name="customer-consent"),
    path(
        "<int:customer_id>/reveal/<str:field>/",
        views.CustomerRevealView.as_view(),
        name="customer-reveal",
    ),
    path(
        "<int:customer_id>/transactions/",
        views.CustomerTransactionsView.as_view(),
        name="customer-transactions",
    ),
    path("<int:customer_id>/share/", views.CustomerShareView.as_view(), name="customer-share"),
    path("<int:customer_id>/share/<int:share_id>/revoke/", views.CustomerShareRevokeView.as_view(),
         name="customer-share-revoke"),
    path(
        "<int:customer_id>/interactions/new/",
        views.InteractionCreateView.as_view(),
        name="interaction-create",
    ),
]
