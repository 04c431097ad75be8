from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ImprovementConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "improvement"
    verbose_name = _("Continuous improvement")

    def ready(self) -> None:
        try:  # TODO(#14): the registry lands on main shortly; drop this guard after merging main
            from core import navigation
        except ImportError:
            return
        navigation.nav_item_register(key="improvement", order=90, template="improvement/partials/nav_item.html")
