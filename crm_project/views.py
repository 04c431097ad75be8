from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import permissions


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send staff to their start page; someone without a role yet sees the welcome page."""
    user = request.user
    # Every role starts on the customer list for now (a branch manager may later get the
    # data-quality queue or a dashboard); anonymous visitors were sent to login above.
    if (
        permissions.is_relationship_manager(user)
        or permissions.is_branch_manager(user)
        or permissions.is_complaint_desk(user)
        or permissions.is_compliance_auditor(user)
        or permissions.is_admin(user)
    ):
        return redirect("customers:customer-list")
    return render(request, "home.html")
