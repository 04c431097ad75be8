from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "customers"
    verbose_name = _("Customer information")

    def ready(self) -> None:
        from core import audit, navigation
        from customers import consent, stewardship
        from customers.services import api, assignment, data_quality, imports, interactions, pii, transactions

        navigation.nav_item_register(key="next-steps", order=10, template="customers/partials/nav_next_steps.html")

        audit.audit_action_labels_register({
            consent.AUDIT_CONSENT_SET: _("consent recorded"),
            api.AUDIT_API_CUSTOMER_CREATE: _("customer created"),
            api.AUDIT_API_CUSTOMER_UPDATE: _("customer information changed"),
            api.AUDIT_API_HOLDING_UPSERT: _("holding written"),
            api.AUDIT_API_PRODUCT_UPSERT: _("product written"),
            assignment.AUDIT_RM_ASSIGN: _("relationship manager assigned"),
            data_quality.AUDIT_DATA_QUALITY_POLICY_CREATE: _("data quality policy version created"),
            imports.AUDIT_IMPORT: _("customer data imported"),
            interactions.AUDIT_API_INTERACTION_RECORD: _("interaction recorded"),
            pii.AUDIT_IDENTIFIER_SEARCH: _("customer searched by ID number or phone"),
            pii.AUDIT_OUT_OF_SCOPE: _("customer outside the user's scope requested"),
            transactions.AUDIT_API_TRANSACTIONS_INGEST: _("transactions received"),
            stewardship.AUDIT_ASSIGN: _("data quality issue assigned"),
            stewardship.AUDIT_ACKNOWLEDGE: _("data quality issue acknowledged"),
            stewardship.AUDIT_WAIVE: _("data quality issue waived"),
        })
