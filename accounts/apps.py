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
