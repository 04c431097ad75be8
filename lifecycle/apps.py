from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LifecycleConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lifecycle"
    verbose_name = _("Lifecycle and churn")

    def ready(self) -> None:
        from core import dashboard, navigation, notifications
        from customers import panels
        from lifecycle import panels as lifecycle_panels

        panels.customer_panel_register(key="lifecycle", order=40, context=lifecycle_panels.customer_panel_context,
                                       template="lifecycle/partials/customer_panel.html")
        navigation.nav_item_register(key="lifecycle", order=50, template="lifecycle/partials/nav_item.html")
        dashboard.dashboard_tile_register(key="lifecycle-at-risk", order=30,
                                          template="lifecycle/partials/dashboard_tile.html",
                                          context=lifecycle_panels.at_risk_tile_context)
        notifications.notification_kind_register(
            kind="lifecycle.retention_task",
            message=_("%(count)s new retention tasks: customers at high risk of leaving, with reasons and a "
                      "suggested action."),
        )

        from core import audit
        from lifecycle import services

        audit.audit_action_labels_register({
            services.AUDIT_POLICY_CREATE: _("lifecycle policy version created"),
            services.AUDIT_MODEL_TRAIN: _("churn model trained"),
            services.AUDIT_MODEL_ACTIVATE: _("churn model activated"),
            services.AUDIT_SCORING_REQUEST: _("churn scoring requested"),
            services.AUDIT_RETENTION_RECORD: _("retention action recorded"),
        })
