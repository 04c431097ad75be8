from django.apps import AppConfig


class CrmProjectConfig(AppConfig):
    """Installed so project-wide management commands (seed_demo) have a home above every app."""

    name = "crm_project"
    verbose_name = "CRM project"
