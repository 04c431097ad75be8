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

        from core import audit

        audit.audit_action_labels_register({
            "evaluation.kpi_target_set": _("KPI target set"),
            "evaluation.list_export": _("list exported"),
            "evaluation.report_download": _("report downloaded"),
            "evaluation.report_regenerate": _("report regenerated"),
        })
