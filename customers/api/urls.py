from django.urls import path

from customers.api import views

app_name = "customers-api"

urlpatterns = [
    path("customers/", views.CustomerListCreateApi.as_view(), name="customer-list"),
    path("customers/lookup/", views.CustomerLookupApi.as_view(), name="customer-lookup"),
    path("customers/by-external-id/<str:external_id>/", views.CustomerUpsertByExternalIdApi.as_view(),
         name="customer-upsert"),
    path("customers/<str:customer_id>/", views.CustomerDetailApi.as_view(), name="customer-detail"),
    path("customers/<str:customer_id>/holdings/", views.HoldingListApi.as_view(), name="holding-list"),
    path("customers/<str:customer_id>/holdings/<str:product_code>/", views.HoldingUpsertApi.as_view(),
         name="holding-upsert"),
    path("customers/<str:customer_id>/interactions/", views.InteractionListCreateApi.as_view(),
         name="interaction-list"),
    path("products/", views.ProductListApi.as_view(), name="product-list"),
    path("products/<str:code>/", views.ProductDetailApi.as_view(), name="product-detail"),
    path("transactions/bulk/", views.TransactionBulkIngestApi.as_view(), name="transaction-bulk"),
]
