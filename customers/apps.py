from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customers"
    verbose_name = _("Customer information")

    def ready(self) -> None:
        from core import navigation

        navigation.nav_item_register(key="next-steps", order=10, template="customers/partials/nav_next_steps.html")
