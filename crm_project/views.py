from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The start page. Later issues send each role to its own work (customers, queue, dashboard)."""
    return render(request, "home.html")
