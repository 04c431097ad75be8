from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from complaints.templatetags.complaints_panels import complaints_customer_panel
        from core import navigation, notifications
        from customers import panels

        panels.customer_panel_register(key="complaints", order=30, context=complaints_customer_panel,
                                       template="complaints/partials/customer_panel.html")
        navigation.nav_item_register(key="complaints", order=50, template="complaints/partials/nav_item.html")
        # A branch manager's inbox: escalations and breached clocks (complaints.services._manager_message).
        for kind, message in (
            ("escalated", _("Complaint %(reference)s was escalated to you.")),
            ("first_response_breached", _("Complaint %(reference)s: the first response is overdue.")),
            ("resolution_breached", _("Complaint %(reference)s: the resolution is overdue.")),
        ):
            notifications.notification_kind_register(kind=f"complaints.{kind}", message=message)

        from complaints import services
        from core import audit

        audit.audit_action_labels_register({
            services.AUDIT_LINK_CUSTOMER: _("customer linked to a complaint"),
            services.AUDIT_SLA_POLICY_CREATE: _("complaint SLA version created"),
            services.AUDIT_ATTACHMENT_ADD: _("complaint attachment added"),
            services.AUDIT_SEARCH: _("complaints searched by name or phone"),
        })
