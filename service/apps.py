from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "service"
    verbose_name = _("Service and satisfaction")

    def ready(self) -> None:
        from core import navigation
        from customers import panels
        from service.panels import service_customer_panel

        panels.customer_panel_register(key="service", order=20, context=service_customer_panel,
                                       template="service/partials/customer_panel.html")
        navigation.nav_item_register(key="service", order=40, template="service/partials/nav_item.html")

        from core import audit
        from service import services

        audit.audit_action_labels_register({
            "service.policy_create": _("service policy version created"),
            services.TOUCHPOINT_CREATE_ACTION: _("touchpoint created"),
            services.TOUCHPOINT_UPDATE_ACTION: _("touchpoint service standard changed"),
        })
