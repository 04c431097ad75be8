from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from core import views as core_views
from crm_project import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("segments/", include("segmentation.urls")),
    path("service/", include("service.urls")),
    path("complaints/", include("complaints.urls")),
    path("evaluation/", include("evaluation.urls")),
    path("lifecycle/", include("lifecycle.urls")),
    path("training/", include("training.urls")),
    path("improvement/", include("improvement.urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    # Pages for customers themselves (no login): the front door, survey answers, online complaints, progress.
    path("public/", views.public_home, name="public-home"),
    path("public/surveys/", include("service.public_urls")),
    path("public/complaints/", include("complaints.public_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/", include("crm_project.api_urls")),
]

handler403 = "crm_project.views.error_403"
handler404 = "crm_project.views.error_404"
handler500 = "crm_project.views.error_500"

admin.site.site_header = _("Bank branch CRM")
admin.site.site_title = _("Bank branch CRM")
