from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "segmentation"
    verbose_name = _("Classification and tiering")

    def ready(self) -> None:
        from core import navigation
        from customers import panels
        from segmentation.templatetags.segmentation_panels import segmentation_customer_panel

        panels.customer_panel_register(key="segmentation", order=10, context=segmentation_customer_panel,
                                       template="segmentation/partials/customer_panel.html")
        navigation.nav_item_register(key="segmentation", order=30, template="segmentation/partials/nav_item.html")

        from core import audit
        from segmentation import services

        audit.audit_action_labels_register({
            services.AUDIT_POLICY_CREATE: _("classification policy version created"),
            services.AUDIT_RUN_REQUEST: _("classification run requested"),
            services.AUDIT_OVERRIDE_PROPOSE: _("tier override proposed"),
            services.AUDIT_OVERRIDE_APPROVE: _("tier override approved"),
            services.AUDIT_OVERRIDE_REJECT: _("tier override rejected"),
            services.AUDIT_FEEDBACK: _("recommendation feedback recorded"),
        })
