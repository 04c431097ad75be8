"""The public survey next to a stand-in for the complaints app's reopen page (complaints-public:reopen)."""

from django.http import HttpResponse
from django.urls import include, path

from tests.service.urls_public_only import urlpatterns as survey_urlpatterns


def reopen_placeholder(request, reference):  # pragma: no cover - only reversed
    return HttpResponse(reference)


urlpatterns = [
    *survey_urlpatterns,
    path("public/complaints/", include(
        ([path("<str:reference>/reopen/", reopen_placeholder, name="reopen")], "complaints-public")
    )),
]
