from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts import permissions
from evaluation import views as evaluation_views


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in role's dashboard (evaluation); someone without a role yet sees the welcome page."""
    if permissions.can_view_kpis(request.user):
        return evaluation_views.dashboard(request)
    return render(request, "home.html")
