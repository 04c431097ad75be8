from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from complaints.templatetags.complaints_panels import complaints_customer_panel
        from core import navigation
        from customers import panels

        panels.customer_panel_register(key="complaints", order=30, context=complaints_customer_panel,
                                       template="complaints/partials/customer_panel.html")
        navigation.nav_item_register(key="complaints", order=50, template="complaints/partials/nav_item.html")
