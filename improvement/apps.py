from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImprovementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "improvement"
    verbose_name = _("Continuous improvement")

    def ready(self) -> None:
        from core import navigation
        navigation.nav_item_register(key="improvement", order=90, template="improvement/partials/nav_item.html")

        from core import audit

        audit.audit_action_labels_register({
            "improvement.review_export": _("management review exported"),
            "improvement.scorecards_compute": _("scorecards computed"),
        })
