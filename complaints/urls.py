from django.urls import path

from complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.ComplaintQueueView.as_view(), name="complaint-list"),
    path("new/", views.ComplaintCreateView.as_view(), name="complaint-create"),
    path("new/find/", views.ComplaintCustomerFindView.as_view(), name="complaint-find-customer"),
    path("hotspots/", views.ComplaintHotspotView.as_view(), name="complaint-hotspots"),
    path("<str:reference>/", views.ComplaintDetailView.as_view(), name="complaint-detail"),
    path("<str:reference>/share/", views.ComplaintShareView.as_view(), name="complaint-share"),
    path("<str:reference>/share/<int:share_id>/revoke/", views.ComplaintShareRevokeView.as_view(),
         name="complaint-share-revoke"),
    path("<str:reference>/transitions/", views.ComplaintTransitionView.as_view(), name="complaint-transition"),
    path("<str:reference>/link/", views.ComplaintLinkCustomerView.as_view(), name="complaint-link-customer"),
    path("<str:reference>/attachments/", views.ComplaintAttachmentAddView.as_view(), name="complaint-attachment-add"),
    path("<str:reference>/confirm-match/", views.ComplaintConfirmMatchView.as_view(), name="complaint-confirm-match"),
    path("<str:reference>/attachments/<int:attachment_id>/", views.ComplaintAttachmentView.as_view(),
         name="complaint-attachment"),
]
