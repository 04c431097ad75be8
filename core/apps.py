from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _

from core import checks as core_checks


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"
    verbose_name = _("Core")

    def ready(self) -> None:
        checks.register(core_checks.pii_keys_check, checks.Tags.security)
        checks.register(core_checks.shared_cache_check, checks.Tags.security, checks.Tags.caches)
