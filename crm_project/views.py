import logging

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _

from accounts import permissions
from evaluation import views as evaluation_views

logger = logging.getLogger(__name__)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in role's dashboard (evaluation); someone without a role yet sees the welcome page."""
    if permissions.can_view_kpis(request.user):
        return evaluation_views.dashboard(request)
    return render(request, "home.html")


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico; the icon is a hashed static file, resolved per request
    (at import time the production manifest may not exist yet, e.g. in `manage.py check`)."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


def public_home(request: HttpRequest) -> HttpResponse:
    """The customers' front door: lodge a complaint, check its progress, call the bank (no login)."""
    return render(request, "public/home.html")


# --- Error pages: translated, in the site layout, with a way back (staff: start page; public: /public/).

_ERRORS = {
    403: (_("Access denied"),
          _("Your role does not allow this page or action. If you need it, ask your branch manager or an "
            "administrator.")),
    404: (_("Page not found"), _("The page does not exist or has moved. Check the address, or go back.")),
    500: (_("Something went wrong"),
          _("The page could not be shown because of an error on our side. It has been logged; please try "
            "again in a moment.")),
}


def _error_page(request: HttpRequest, status: int) -> HttpResponse:
    title, text = _ERRORS[status]
    context = {"error_title": title, "error_text": text, "status": status}
    try:
        return render(request, "error_page.html", context, status=status)
    except Exception:  # the layout itself failed (e.g. the database is down): a page without it
        logger.exception("error page %s could not render in the layout", status)
        return HttpResponse(f"<!doctype html><title>{status}</title><h1>{title}</h1><p>{text}</p>"
                            f'<p><a href="/">{_("Back to the start page")}</a></p>', status=status)


def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, 403)


def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    return _error_page(request, 404)


def error_500(request: HttpRequest) -> HttpResponse:
    return _error_page(request, 500)
