from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("mfa/setup/", views.MfaSetupView.as_view(), name="mfa-setup"),
    path("mfa/verify/", views.MfaVerifyView.as_view(), name="mfa-verify"),
    path("delegations/", views.DelegationListView.as_view(), name="delegation-list"),
    path("shared-with-me/", views.SharedWithMeView.as_view(), name="shared-with-me"),
    path(
        "delegations/<int:delegation_id>/revoke/",
        views.DelegationRevokeView.as_view(),
        name="delegation-revoke",
    ),
]
