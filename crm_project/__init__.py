"""The project package: settings, root URLs, the Celery app, the launcher and project-wide commands."""

from crm_project.celery import app as celery_app

__all__ = ["celery_app"]
