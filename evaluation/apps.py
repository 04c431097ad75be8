from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EvaluationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "evaluation"
    verbose_name = _("Effect evaluation")

    def ready(self) -> None:
        from core import navigation, notifications

        navigation.nav_item_register(key="evaluation", order=80, template="evaluation/partials/nav_item.html")
        notifications.notification_kind_register(
            kind="evaluation.report_ready",
            message=_("Report %(period)s (%(scope)s) is ready to download."),
        )
