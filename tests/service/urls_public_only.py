"""A URLconf with the public survey but without the complaints app's reopen page (not built yet)."""

from django.urls import include, path

urlpatterns = [
    path("public/surveys/", include("service.public_urls")),
    path("i18n/", include("django.conf.urls.i18n")),
]
