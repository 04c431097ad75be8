from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"
    verbose_name = _("Training")

    def ready(self) -> None:
        from core import navigation, notifications, reports
        from training import report_sections, services

        navigation.nav_item_register(key="training", order=70, template="training/partials/nav_item.html")
        notifications.notification_kind_register(
            kind=services.OVERDUE_KIND,
            message=_("Your training course %(course)s was due on %(due)s and is not finished yet."),
        )
        reports.report_section_register(key="training", order=50, kinds=["quarterly"],
                                        build=report_sections.quarterly_training_section)
