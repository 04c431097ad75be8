"""URLs for test_public_and_error_pages.py: the site's URLs plus a page that fails and one that refuses."""

from django.core.exceptions import PermissionDenied
from django.urls import include, path


def failing_page(request):
    raise RuntimeError("boom")


def refusing_page(request):
    raise PermissionDenied


urlpatterns = [
    path("test/boom/", failing_page),
    path("public/test/boom/", failing_page),
    path("test/refuse/", refusing_page),
    path("", include("crm_project.urls")),
]

handler403 = "crm_project.views.error_403"
handler404 = "crm_project.views.error_404"
handler500 = "crm_project.views.error_500"
