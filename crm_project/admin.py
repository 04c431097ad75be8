from django.contrib import admin

from core.admin import ReadOnlyAdmin
from crm_project.models import DemoSeedRun


@admin.register(DemoSeedRun)
class DemoSeedRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "finished_at")
