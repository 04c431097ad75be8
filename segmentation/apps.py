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
