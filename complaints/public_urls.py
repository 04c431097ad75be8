from django.urls import path

from complaints import public_views

app_name = "complaints-public"

urlpatterns = [
    path("", public_views.PublicProgressView.as_view(), name="progress"),
    path("new/", public_views.PublicComplaintCreateView.as_view(), name="create"),
    path("new/submitted/", public_views.PublicComplaintSubmittedView.as_view(), name="submitted"),
    path("<str:reference>/reopen/", public_views.PublicReopenView.as_view(), name="reopen"),
]
