from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from accounts import signals  # imported here: receivers need the app registry

        signals.connect()
        from accounts import reveal_budget

        reveal_budget.notification_kinds_register()
        from core import navigation

        navigation.nav_item_register(key="shared-with-me", order=95, template="accounts/partials/nav_shared.html")

        from accounts import mfa, services
        from core import audit

        audit.audit_action_labels_register({
            services.AUDIT_DELEGATION_CREATE: _("customers delegated"),
            services.AUDIT_DELEGATION_REVOKE: _("delegation ended"),
            services.AUDIT_API_KEY_CREATE: _("API key created"),
            services.AUDIT_API_KEY_REVOKE: _("API key revoked"),
            services.AUDIT_API_KEY_REJECTED: _("API key refused"),
            services.AUDIT_RECORD_SHARE_CREATE: _("record shared with a colleague"),
            services.AUDIT_RECORD_SHARE_REVOKE: _("record share revoked"),
            mfa.AUDIT_MFA_ENROLLED: _("authenticator app set up"),
            mfa.AUDIT_MFA_VERIFIED: _("second sign-in step passed"),
            mfa.AUDIT_MFA_FAILED: _("second sign-in step failed"),
            reveal_budget.AUDIT_REVEAL_REFUSED: _("reveal refused: hourly limit reached"),
        })
