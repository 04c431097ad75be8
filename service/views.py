"""Pages of the service chapter: parse → authorize → one call → render (STYLE.md §6).

Staff pages: the branch service report, recording a service, a customer's full service history
(paged; the 360 panel shows the latest), "My follow-ups", one survey answer (re-tagging its
topics). Public pages (no login): the survey a customer answers through the link in their SMS.
A customer outside the viewer's scope is a 404 before any 403.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.csrf import csrf_protect

from accounts import permissions
from accounts.models import Branch, User
from core.errors import ApplicationError
from core.forms import form_add_application_error
from core.middleware import client_ip
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Customer
from service import selectors, services
from service.forms import (
    FeedbackTopicsForm,
    FollowUpFinishForm,
    ServiceRecordForm,
    ServiceReportForm,
    SurveyAnswerForm,
)
from service.models import FollowUpTask, SurveyInvitation, SurveyResponse

FOLLOW_UP_PAGE_SIZE = 50
HISTORY_PAGE_SIZE = 25

# The public survey answers at most this many requests per client address per window: a
# token cannot be guessed (256 bits), so this only keeps scripted traffic off the page.
PUBLIC_SURVEY_RATE_LIMIT = 30
PUBLIC_SURVEY_RATE_WINDOW_SECONDS = 60


def _customer_or_404(user: User, customer_id: int) -> Customer:
    try:
        return customer_selectors.customer_get_visible_to(user=user, customer_id=customer_id)
    except Customer.DoesNotExist as error:
        customer_services.customer_out_of_scope_record(user=user, customer_id=customer_id)
        raise Http404 from error


# --- Staff pages ----------------------------------------------------------------------------


class ServiceReportView(LoginRequiredMixin, View):
    """Handling times (median, p90) and overruns by touchpoint for a branch and period."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_service_report(user):
            raise PermissionDenied
        head_office = permissions.sees_all_branches(user)
        branches = selectors.service_report_branches_for(user=user)
        form = ServiceReportForm(request.GET or None, branches=branches if head_office else None)
        since, until = form.period()
        if not form.is_bound:
            form.initial = {"since": since, "until": until}
        branch = form.cleaned_data.get("branch") if head_office and form.is_bound and form.is_valid() else None
        try:
            report = selectors.service_report(user=user, branch_id=branch.pk if branch else None,
                                              since=since, until=until)
        except Branch.DoesNotExist as error:
            raise Http404 from error
        rows = [row for row in report.rows if row.records]
        handling_chart = {
            "labels": [row.touchpoint.label for row in rows],
            "datasets": [
                {"label": str(_("Target (minutes)")), "data": [row.touchpoint.target_minutes for row in rows]},
                {"label": str(_("Median (minutes)")), "data": [row.median_minutes for row in rows]},
                {"label": str(_("90th percentile (minutes)")), "data": [row.p90_minutes for row in rows]},
            ],
        }
        return render(request, "service/service_report.html", {
            "form": form, "report": report, "head_office": head_office, "handling_chart": handling_chart,
        })


class ServiceRecordCreateView(LoginRequiredMixin, View):
    """Record a service given to a customer: touchpoint, times, SOP steps ticked, outcome."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        now = timezone.localtime().replace(second=0, microsecond=0)
        form = ServiceRecordForm(touchpoints=selectors.touchpoint_list_active(),
                                 initial={"ended_at": now, "started_at": now - timedelta(minutes=15),
                                          "outcome": "completed", "send_survey": True})
        return self._render(request, customer=customer, form=form)

    def post(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        customer = self._authorized_customer(request, customer_id)
        form = ServiceRecordForm(request.POST, touchpoints=selectors.touchpoint_list_active())
        if form.is_valid():
            try:
                record = services.service_record_create(customer=customer, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                if record.is_overrun:
                    messages.warning(request, _("The service was recorded. It took %(minutes)s minutes, over "
                                                "the %(target)d-minute standard.")
                                     % {"minutes": record.handling_minutes, "target": record.target_minutes})
                else:
                    messages.success(request, _("The service was recorded."))
                return redirect("customers:customer-detail", customer_id=customer.pk)
        return self._render(request, customer=customer, form=form)

    @staticmethod
    def _authorized_customer(request: HttpRequest, customer_id: int) -> Customer:
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        if not permissions.can_record_service(request.user):
            raise PermissionDenied
        return customer

    @staticmethod
    def _render(request: HttpRequest, *, customer: Customer, form: ServiceRecordForm) -> HttpResponse:
        return render(request, "service/service_record_form.html", {
            "customer": customer, "form": form, "touchpoints": form.touchpoints,
        })


class CustomerServiceHistoryView(LoginRequiredMixin, View):
    """All of a customer's service records and survey answers, paged (the 360 panel shows the latest)."""

    def get(self, request: HttpRequest, customer_id: int) -> HttpResponse:
        if not permissions.can_view_customers(request.user):
            raise PermissionDenied
        customer = _customer_or_404(request.user, customer_id)
        records_page = Paginator(selectors.service_record_list_for(customer=customer),
                                 HISTORY_PAGE_SIZE).get_page(request.GET.get("records_page"))
        answers_page = None
        if permissions.can_view_survey_responses(request.user):
            answers_page = Paginator(selectors.survey_response_list_for(customer=customer),
                                     HISTORY_PAGE_SIZE).get_page(request.GET.get("answers_page"))
        return render(request, "service/customer_service_history.html", {
            "customer": customer, "records_page": records_page, "answers_page": answers_page,
        })


class FollowUpListView(LoginRequiredMixin, View):
    """"My follow-ups": dissatisfied survey answers the RM calls back (the branch's for a manager)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not permissions.can_view_follow_ups(user):
            raise PermissionDenied
        show = request.GET.get("show") if request.GET.get("show") in ("open", "all") else "open"
        tasks = selectors.follow_up_list_visible_to(user=user, status=FollowUpTask.Status.OPEN if show == "open"
                                                    else None)
        page = Paginator(tasks, FOLLOW_UP_PAGE_SIZE).get_page(request.GET.get("page"))
        if permissions.is_relationship_manager(user) and not permissions.is_branch_manager(user):
            heading = _("My follow-ups")
        elif permissions.is_branch_manager(user):
            heading = _("Branch follow-ups")
        else:
            heading = _("Follow-ups")
        return render(request, "service/follow_up_list.html", {
            "page": page, "show": show, "heading": heading, "today": timezone.localdate(),
            "can_work": permissions.can_work_follow_ups(user),
        })


class FollowUpFinishView(LoginRequiredMixin, View):
    """Mark a follow-up done, or close it with a reason."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, task_id: int) -> HttpResponse:
        user = request.user
        if not permissions.can_view_follow_ups(user):
            raise PermissionDenied
        try:
            task = selectors.follow_up_get_visible_to(user=user, task_id=task_id)
        except FollowUpTask.DoesNotExist as error:
            raise Http404 from error
        if not permissions.can_work_follow_ups(user):
            raise PermissionDenied
        form = FollowUpFinishForm(request.POST)
        if not form.is_valid():
            raise ApplicationError.invalid(_("Choose done or close."))
        services.follow_up_finish(task=task, by=user, to_status=form.cleaned_data["status"],
                                  note=form.cleaned_data["note"])
        messages.success(request, _("The follow-up was updated."))
        next_url = request.POST.get("next", "")
        if next_url == "customer":
            return redirect("customers:customer-detail", customer_id=task.customer_id)
        return redirect("service:follow-up-list")


class SurveyResponseDetailView(LoginRequiredMixin, View):
    """One survey answer, with its feedback topics (staff may correct the tagger's choice)."""

    def get(self, request: HttpRequest, response_id: int) -> HttpResponse:
        response = self._visible_response(request, response_id)
        form = FeedbackTopicsForm(topics=selectors.feedback_topic_list_active(),
                                  initial={"topics": list(response.topics.all())})
        return self._render(request, response=response, form=form)

    def post(self, request: HttpRequest, response_id: int) -> HttpResponse:
        response = self._visible_response(request, response_id)
        if not permissions.can_retag_feedback(request.user):
            raise PermissionDenied
        form = FeedbackTopicsForm(request.POST, topics=selectors.feedback_topic_list_active())
        if form.is_valid():
            services.survey_response_topics_set(response=response, topics=list(form.cleaned_data["topics"]),
                                                by=request.user)
            messages.success(request, _("The feedback topics were saved."))
            return redirect("service:response-detail", response_id=response.pk)
        return self._render(request, response=response, form=form)

    @staticmethod
    def _visible_response(request: HttpRequest, response_id: int) -> SurveyResponse:
        if not permissions.can_view_survey_responses(request.user):
            raise PermissionDenied
        try:
            return selectors.survey_response_get_visible_to(user=request.user, response_id=response_id)
        except SurveyResponse.DoesNotExist as error:
            raise Http404 from error

    @staticmethod
    def _render(request: HttpRequest, *, response: SurveyResponse, form: FeedbackTopicsForm) -> HttpResponse:
        return render(request, "service/survey_response_detail.html", {
            "response": response, "customer": response.customer, "form": form,
            "can_retag": permissions.can_retag_feedback(request.user),
        })


# --- Public survey pages (no login) ---------------------------------------------------------


# The session key holding the invitation a survey link was exchanged for (SurveyAnswerView.get).
SURVEY_SESSION_KEY = "service_survey_invitation_id"


def _public_rate_limited(request: HttpRequest) -> bool:
    """Count this request against the client address's window; True once the limit is passed."""
    key = f"service:public-survey:{client_ip(request) or 'unknown'}"
    cache.add(key, 0, timeout=PUBLIC_SURVEY_RATE_WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add and incr
        cache.set(key, 1, timeout=PUBLIC_SURVEY_RATE_WINDOW_SECONDS)
        count = 1
    return count > PUBLIC_SURVEY_RATE_LIMIT


def _public_render(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    add_never_cache_headers(response)
    # The token is in the URL: never send it to another site in a Referer. ("no-referrer" would make
    # browsers send "Origin: null" with the form, which Django's CSRF check refuses.)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # Django's request logger writes the path of every 4xx answer; here the path holds a token.
    response._has_been_logged = True
    return response


def _unavailable(request: HttpRequest) -> HttpResponse:
    """The one answer for an unknown, malformed or expired token: nothing tells them apart."""
    return _public_render(request, "service/public/survey_unavailable.html", {}, status=404)


def _complaint_reopen_url(invitation: SurveyInvitation) -> str | None:
    """The complaints app's public reopen page for this complaint; None until that page exists."""
    if invitation.trigger != SurveyInvitation.Trigger.COMPLAINT or not invitation.reference:
        return None
    try:
        return reverse("complaints-public:reopen", kwargs={"reference": invitation.reference})
    except NoReverseMatch:
        return None


@method_decorator(csrf_protect, name="dispatch")
class SurveyAnswerView(View):
    """The survey a customer opens from the SMS link: answer once, before the link expires."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if _public_rate_limited(request):
            return _public_render(request, "service/public/survey_throttled.html", {}, status=429)
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        invitation = self._open_invitation(request, token)
        if invitation is None:
            return _unavailable(request)
        if hasattr(invitation, "response"):
            return self._already_answered(request)
        if token is not None:
            # The token answers as the customer: trade it for this browser's session and continue on a
            # URL without it, so it does not stay in the address bar, history, or logs beyond this hit.
            request.session.cycle_key()
            request.session[SURVEY_SESSION_KEY] = invitation.pk
            response = redirect("service-public:survey-answer-session")
            response["Referrer-Policy"] = "same-origin"
            add_never_cache_headers(response)
            return response
        return self._render_form(request, invitation, SurveyAnswerForm())

    def post(self, request: HttpRequest, token: str | None = None) -> HttpResponse:
        invitation = self._open_invitation(request, token)
        if invitation is None:
            return _unavailable(request)
        if hasattr(invitation, "response"):
            return self._already_answered(request)
        form = SurveyAnswerForm(request.POST)
        if not form.is_valid():
            return self._render_form(request, invitation, form, status=400)
        try:
            response = services.survey_response_submit(invitation=invitation, **form.cleaned_data)
        except services.SurveyAlreadyAnswered:
            return self._already_answered(request)
        except services.SurveyUnavailable:
            return _unavailable(request)
        except ApplicationError as error:
            form_add_application_error(form, error)
            return self._render_form(request, invitation, form, status=400)
        reopen_url = _complaint_reopen_url(invitation) if response.is_dissatisfied else None
        return _public_render(request, "service/public/survey_thanks.html", {
            "response": response, "dissatisfied": response.is_dissatisfied, "reopen_url": reopen_url,
            "follow_up_days": services.service_policy_latest().follow_up_due_working_days,
        })

    @staticmethod
    def _open_invitation(request: HttpRequest, token: str | None) -> SurveyInvitation | None:
        """The invitation of the link's token, or (token-free URL) the one this session was given."""
        if token is not None:
            invitation = services.survey_invitation_find(token=token)
        else:
            invitation = selectors.survey_invitation_by_id(invitation_id=request.session.get(SURVEY_SESSION_KEY))
        if invitation is None or invitation.expires_at <= timezone.now():
            return None
        return invitation

    @staticmethod
    def _already_answered(request: HttpRequest) -> HttpResponse:
        return _public_render(request, "service/public/survey_already_answered.html", {}, status=409)

    @staticmethod
    def _render_form(request: HttpRequest, invitation: SurveyInvitation, form: SurveyAnswerForm, *,
                     status: int = 200) -> HttpResponse:
        return _public_render(request, "service/public/survey_form.html", {
            "form": form, "invitation": invitation,
            "dimensions": [form[name] for name in SurveyAnswerForm.DIMENSIONS],
        }, status=status)
