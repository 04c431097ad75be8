"""Pages for complainants themselves, no login (MANUAL 3.3: submit online, see the progress).

Nothing here confirms that a reference number exists: a wrong reference and a wrong phone get
the same page, the same status and the same message, and both count against the throttles
(per client address, and failures per reference *and* client address, in the shared cache).
The failure bucket is keyed on the pair so a stranger guessing digits for a sequential
reference locks out only themselves, never the complainant.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.debug import sensitive_post_parameters

from complaints import selectors, services
from complaints.forms import PublicComplaintForm, PublicProgressForm, PublicReopenForm
from complaints.models import ComplaintStatus
from core.errors import ApplicationError
from core.forms import form_add_application_error
from core.middleware import client_ip

# (attempts, window in seconds). Abuse limits, not business numbers.
SUBMIT_LIMIT_PER_IP = (5, 3600)
LOOKUP_LIMIT_PER_IP = (20, 600)
LOOKUP_LIMIT_PER_REFERENCE = (5, 3600)  # per client address: 5 wrong phone endings an hour
SESSION_SUBMITTED_KEY = "complaints_public_submitted"


def _hit(bucket: str, ident: str, limit: tuple[int, int]) -> bool:
    """Count one attempt; return True when the bucket is over its limit (fixed window)."""
    attempts, window_seconds = limit
    key = "complaints:throttle:" + bucket + ":" + hashlib.sha256(ident.encode()).hexdigest()[:32]
    cache.add(key, 0, timeout=window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window_seconds)
        count = 1
    return count > attempts


def _over(bucket: str, ident: str, limit: tuple[int, int]) -> bool:
    """Whether the bucket is already over its limit, without counting."""
    key = "complaints:throttle:" + bucket + ":" + hashlib.sha256(ident.encode()).hexdigest()[:32]
    return (cache.get(key) or 0) >= limit[0]


def _ip(request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def _reference_key(request: HttpRequest, reference: str) -> str:
    """The failure bucket's key: this reference from this client address."""
    return reference + "|" + _ip(request)


def _throttled(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    context["throttled"] = True
    response = render(request, template, context, status=429)
    response["Retry-After"] = "600"
    add_never_cache_headers(response)
    return response


def _no_store(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


def _not_found_message() -> str:
    return _("We could not find a complaint with this reference number and phone digits. "
             "Check both and try again.")


class PublicComplaintCreateView(View):
    template_name = "complaints/public/complaint_form.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _no_store(render(request, self.template_name, {"form": PublicComplaintForm()}))

    @method_decorator(sensitive_post_parameters("contact_phone", "id_number"))
    def post(self, request: HttpRequest) -> HttpResponse:
        form = PublicComplaintForm(request.POST)
        if _hit("submit-ip", _ip(request), SUBMIT_LIMIT_PER_IP):
            return _throttled(request, self.template_name, {"form": form})
        if form.is_valid():
            if form.cleaned_data["website"]:
                # A bot filled the honeypot: answer as if accepted, store nothing.
                request.session[SESSION_SUBMITTED_KEY] = ""
                return redirect("complaints-public:submitted")
            try:
                complaint = services.complaint_public_submit(
                    branch=form.cleaned_data["branch"], category=form.cleaned_data["category"],
                    contact_name=form.cleaned_data["contact_name"], contact_phone=form.cleaned_data["contact_phone"],
                    description=form.cleaned_data["description"],
                    id_number=form.cleaned_data["id_number"] or "",
                )
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                request.session[SESSION_SUBMITTED_KEY] = complaint.reference
                return redirect("complaints-public:submitted")
        return _no_store(render(request, self.template_name, {"form": form}))


class PublicComplaintSubmittedView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        reference = request.session.get(SESSION_SUBMITTED_KEY)
        if reference is None:
            return redirect("complaints-public:create")
        return _no_store(render(request, "complaints/public/complaint_submitted.html", {"reference": reference}))


class PublicProgressView(View):
    template_name = "complaints/public/progress.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return _no_store(render(request, self.template_name, {"form": PublicProgressForm()}))

    @method_decorator(sensitive_post_parameters("phone_last4"))
    def post(self, request: HttpRequest) -> HttpResponse:
        form = PublicProgressForm(request.POST)
        reference = (request.POST.get("reference") or "").strip().upper()[:24]
        reference_key = _reference_key(request, reference)
        if _hit("lookup-ip", _ip(request), LOOKUP_LIMIT_PER_IP) or _over(
                "lookup-ref", reference_key, LOOKUP_LIMIT_PER_REFERENCE):
            return _throttled(request, self.template_name, {"form": PublicProgressForm()})
        if not form.is_valid():
            return _no_store(render(request, self.template_name, {"form": form}))
        complaint = selectors.complaint_for_public(reference=form.cleaned_data["reference"])
        if not services.complaint_phone_matches(complaint=complaint, phone_last4=form.cleaned_data["phone_last4"]):
            _hit("lookup-ref", reference_key, LOOKUP_LIMIT_PER_REFERENCE)
            return _no_store(render(request, self.template_name, {
                "form": PublicProgressForm(initial={"reference": reference}), "error": _not_found_message()}))
        now = timezone.now()
        can_reopen = (complaint.status in (ComplaintStatus.RESOLVED, ComplaintStatus.CLOSED)
                      and complaint.resolved_at is not None
                      and now <= complaint.resolved_at + timedelta(days=complaint.sla_policy.reopen_window_days))
        return _no_store(render(request, "complaints/public/progress_detail.html", {
            "complaint": complaint,
            "events": list(selectors.complaint_events_for(complaint=complaint, customer_visible_only=True)),
            "can_reopen": can_reopen,
        }))


class PublicReopenView(View):
    """Reopen after an unsatisfying resolution (linked from the survey's thank-you page)."""

    template_name = "complaints/public/reopen.html"

    def get(self, request: HttpRequest, reference: str) -> HttpResponse:
        return _no_store(render(request, self.template_name, {"reference": reference, "form": PublicReopenForm()}))

    @method_decorator(sensitive_post_parameters("phone_last4"))
    def post(self, request: HttpRequest, reference: str) -> HttpResponse:
        form = PublicReopenForm(request.POST)
        key = _reference_key(request, reference.strip().upper()[:24])
        context = {"reference": reference, "form": form}
        if _hit("lookup-ip", _ip(request), LOOKUP_LIMIT_PER_IP) or _over("lookup-ref", key, LOOKUP_LIMIT_PER_REFERENCE):
            return _throttled(request, self.template_name, context)
        if not form.is_valid():
            return _no_store(render(request, self.template_name, context))
        complaint = selectors.complaint_for_public(reference=reference)
        if not services.complaint_phone_matches(complaint=complaint, phone_last4=form.cleaned_data["phone_last4"]):
            _hit("lookup-ref", key, LOOKUP_LIMIT_PER_REFERENCE)
            context.update(form=PublicReopenForm(initial={"reason": form.cleaned_data["reason"]}),
                           error=_not_found_message())
            return _no_store(render(request, self.template_name, context))
        try:
            services.complaint_public_reopen(complaint=complaint, phone_last4=form.cleaned_data["phone_last4"],
                                             reason=form.cleaned_data["reason"])
        except ApplicationError as error:
            context["error"] = error.message
            return _no_store(render(request, self.template_name, context))
        return _no_store(render(request, "complaints/public/reopened.html", {"reference": complaint.reference}))
