"""Continuous-improvement pages (MANUAL Ch. 7): parse → authorize → one call → render (STYLE §6)."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views import View

from accounts import permissions as roles
from accounts.models import Branch, User
from core.errors import ApplicationError
from core.forms import form_add_application_error
from improvement import kpis, permissions, selectors, services
from improvement.forms import (
    AdvanceForm,
    CustomerRewardForm,
    InitiativeCreateForm,
    PeriodForm,
    PhaseNoteForm,
    SuggestionDecideForm,
    SuggestionForm,
)
from improvement.models import (
    PHASE_TRANSITIONS,
    Initiative,
    PeriodKind,
    Phase,
    ScorecardPolicy,
    Suggestion,
    SuggestionStatus,
    period_before,
    period_label,
    period_start_of,
)
from service import selectors as service_selectors
from service.models import SurveyResponse

LIST_MAX = 200
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (text starting =, +, -, @ gets a leading ')."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _initiative_or_404(user, initiative_id: int) -> Initiative:
    try:
        return selectors.initiative_get_visible_to(principal=user, initiative_id=initiative_id)
    except Initiative.DoesNotExist as error:
        raise Http404 from error


def _suggestion_or_404(user, suggestion_id: int) -> Suggestion:
    try:
        return selectors.suggestion_get_visible_to(user=user, suggestion_id=suggestion_id)
    except Suggestion.DoesNotExist as error:
        raise Http404 from error


def _staff_for(user):
    staff = User.objects.filter(is_active=True).order_by("username")
    return staff if roles.is_admin(user) else staff.filter(branch_id=user.branch_id)


def _branches_for(user):
    return Branch.objects.all() if roles.is_admin(user) else Branch.objects.filter(pk=user.branch_id)


class ImprovementHomeView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_improvement(user))
        return render(request, "improvement/home.html", {
            "initiatives": selectors.initiative_list_visible_to(principal=user).exclude(phase=Phase.CLOSED)[:20],
            "suggestions": selectors.suggestion_list_visible_to(user=user)[:20],
            "can_manage": permissions.can_manage_initiatives(user),
            "can_view_scorecards": permissions.can_view_scorecards(user),
            "can_view_reviews": permissions.can_view_reviews(user),
            "can_reward": permissions.can_reward_customer_feedback(user),
        })


class InitiativeListView(LoginRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_improvement(user))
        phase = request.GET.get("phase", "")
        initiatives = selectors.initiative_list_visible_to(principal=user)
        if phase in Phase.values:
            initiatives = initiatives.filter(phase=phase)
        return render(request, "improvement/initiative_list.html", {
            "initiatives": list(initiatives[:LIST_MAX]), "phase": phase, "phases": Phase.choices,
            "can_manage": permissions.can_manage_initiatives(user),
        })


class InitiativeCreateView(LoginRequiredMixin, View):
    def _form(self, request, data=None):
        user = request.user
        choices = [(d.code, f"{d.label}") for d in kpis.kpi_definitions()]
        initial = {}
        suggestion_id = request.GET.get("suggestion") or (data or {}).get("suggestion")
        suggestion = None
        if suggestion_id and str(suggestion_id).isdigit():
            suggestion = selectors.suggestion_list_visible_to(user=user).filter(
                pk=int(suggestion_id), status=SuggestionStatus.ADOPTED).first()
            if suggestion is not None:
                initial = {"title": suggestion.title, "problem": suggestion.body}
        form = InitiativeCreateForm(data, initial=initial, staff=_staff_for(user), branches=_branches_for(user),
                                    kpi_choices=choices)
        return form, suggestion

    def get(self, request: HttpRequest) -> HttpResponse:
        _require(permissions.can_manage_initiatives(request.user))
        form, suggestion = self._form(request)
        return render(request, "improvement/initiative_form.html", {"form": form, "suggestion": suggestion})

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_manage_initiatives(user))
        form, suggestion = self._form(request, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            branch = data["branch"]
            if branch is None and not roles.is_admin(user):
                form.add_error("branch", _("A branch manager opens initiatives for their branch."))
            else:
                try:
                    initiative = services.initiative_create(by=user, suggestion=suggestion, **data)
                except ApplicationError as error:
                    form_add_application_error(form, error)
                else:
                    messages.success(request, _("Initiative opened in its plan phase."))
                    return redirect("improvement:initiative-detail", initiative_id=initiative.pk)
        # The form again with its errors (200, as every form page of the CRM answers).
        return render(request, "improvement/initiative_form.html", {"form": form, "suggestion": suggestion})


class InitiativeDetailView(LoginRequiredMixin, View):
    """An initiative's PDCA phases; the check phase reads the KPI's measured value for the period."""

    def get(self, request: HttpRequest, initiative_id: int) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_improvement(user))
        initiative = _initiative_or_404(user, initiative_id)
        return render(request, "improvement/initiative_detail.html", self._context(request, initiative))

    def _context(self, request, initiative, note_form=None) -> dict:
        user = request.user
        can_advance = permissions.can_advance_initiative(user, initiative)
        measured = services.initiative_check_reading(initiative=initiative)
        return {
            "initiative": initiative,
            "kpi_label": kpis.kpi_label(initiative.kpi_code),
            "measured": measured,
            "provisional_verdict": initiative.verdict_for(measured) if measured is not None else None,
            "change": (measured - initiative.baseline_value) if measured is not None else None,
            "notes": list(initiative.phase_notes.order_by("cycle", "starts_on", "id")),
            "events": list(initiative.events.select_related("by")),
            "team": list(initiative.team.all()),
            "rewards": list(initiative.rewards.all()),
            "next_phases": [Phase(p) for p in sorted(PHASE_TRANSITIONS[Phase(initiative.phase)])],
            "can_advance": can_advance,
            "note_form": note_form or PhaseNoteForm(initial={
                "phase": initiative.phase if initiative.phase != Phase.CLOSED else Phase.ACT,
                "starts_on": timezone.localdate()}),
        }

    def post(self, request: HttpRequest, initiative_id: int) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_improvement(user))
        initiative = _initiative_or_404(user, initiative_id)
        _require(permissions.can_advance_initiative(user, initiative))
        if "to_phase" in request.POST:
            form = AdvanceForm(request.POST)
            if form.is_valid():
                try:
                    initiative = services.initiative_advance(
                        initiative=initiative, to_phase=form.cleaned_data["to_phase"], by=user)
                except ApplicationError as error:
                    messages.error(request, error.message)
                else:
                    messages.success(request, _("Phase: %(phase)s.") % {"phase": initiative.get_phase_display()})
            return redirect("improvement:initiative-detail", initiative_id=initiative.pk)
        note_form = PhaseNoteForm(request.POST)
        if note_form.is_valid():
            try:
                services.initiative_phase_note_save(initiative=initiative, **note_form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(note_form, error)
            else:
                messages.success(request, _("Phase notes saved."))
                return redirect("improvement:initiative-detail", initiative_id=initiative.pk)
        return render(request, "improvement/initiative_detail.html", self._context(request, initiative, note_form),
                      status=400)


class SuggestionListView(LoginRequiredMixin, View):
    def _render(self, request, form, status=200):
        user = request.user
        status_filter = request.GET.get("status", "")
        suggestions = selectors.suggestion_list_visible_to(user=user)
        if status_filter in SuggestionStatus.values:
            suggestions = suggestions.filter(status=status_filter)
        return render(request, "improvement/suggestion_list.html", {
            "suggestions": list(suggestions[:LIST_MAX]), "form": form, "status": status_filter,
            "statuses": SuggestionStatus.choices,
        }, status=status)

    def get(self, request: HttpRequest) -> HttpResponse:
        _require(permissions.can_view_improvement(request.user))
        form = SuggestionForm() if permissions.can_submit_suggestion(request.user) else None
        return self._render(request, form)

    def post(self, request: HttpRequest) -> HttpResponse:
        _require(permissions.can_submit_suggestion(request.user))
        form = SuggestionForm(request.POST)
        if form.is_valid():
            try:
                suggestion = services.suggestion_submit(by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("Thank you: your suggestion is submitted."))
                return redirect("improvement:suggestion-detail", suggestion_id=suggestion.pk)
        return self._render(request, form, status=400)


class SuggestionDetailView(LoginRequiredMixin, View):
    """A suggestion and its chain: the initiatives it became, their KPI change, and the rewards paid."""

    def _context(self, request, suggestion, form=None) -> dict:
        chain = []
        for initiative in suggestion.initiatives.all():
            chain.append({"initiative": initiative, "kpi_label": kpis.kpi_label(initiative.kpi_code),
                          "change": (initiative.measured_value - initiative.baseline_value
                                     if initiative.measured_value is not None else None)})
        can_decide = permissions.can_decide_suggestion(request.user, suggestion)
        return {
            "suggestion": suggestion, "chain": chain,
            "rewards": list(selectors.staff_rewards_for(suggestion=suggestion)),
            "can_decide": can_decide and suggestion.status in (SuggestionStatus.SUBMITTED,
                                                               SuggestionStatus.UNDER_REVIEW),
            "can_open_initiative": (suggestion.status == SuggestionStatus.ADOPTED
                                    and permissions.can_manage_initiatives(request.user)),
            "form": form or SuggestionDecideForm(),
        }

    def get(self, request: HttpRequest, suggestion_id: int) -> HttpResponse:
        _require(permissions.can_view_improvement(request.user))
        suggestion = _suggestion_or_404(request.user, suggestion_id)
        return render(request, "improvement/suggestion_detail.html", self._context(request, suggestion))

    def post(self, request: HttpRequest, suggestion_id: int) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_improvement(user))
        suggestion = _suggestion_or_404(user, suggestion_id)
        _require(permissions.can_decide_suggestion(user, suggestion))
        form = SuggestionDecideForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if data["decision"] == "review":
                    services.suggestion_review_start(suggestion=suggestion, by=user)
                else:
                    services.suggestion_decide(
                        suggestion=suggestion, by=user, adopt=data["decision"] == "adopt", reason=data["reason"],
                        reward_points=data["reward_points"] or 0, bonus_points_if_met=data["bonus_points_if_met"] or 0)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("Decision recorded."))
                return redirect("improvement:suggestion-detail", suggestion_id=suggestion.pk)
        return render(request, "improvement/suggestion_detail.html", self._context(request, suggestion, form),
                      status=400)


class FeedbackRewardView(LoginRequiredMixin, View):
    """Reward customers for feedback, against the survey answer it thanks."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_reward_customer_feedback(user))
        answers = list(service_selectors.survey_response_list_visible_to(principal=user)
                       .filter(feedback_reward__isnull=True)[:50])
        for answer in answers:
            answer.reward_form = CustomerRewardForm(prefix=f"r{answer.pk}", initial={"response_id": answer.pk})
        return render(request, "improvement/feedback_rewards.html", {
            "answers": answers, "rewards": selectors.customer_rewards_visible_to(user=user)[:50]})

    def post(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_reward_customer_feedback(user))
        prefix = request.POST.get("prefix", "")
        form = CustomerRewardForm(request.POST, prefix=prefix if prefix.startswith("r") else None)
        if not form.is_valid():
            messages.error(request, _("Check the reward: points are a whole number from 0 to 100,000."))
            return redirect("improvement:feedback-rewards")
        try:
            answer = service_selectors.survey_response_get_visible_to(user=user,
                                                                       response_id=form.cleaned_data["response_id"])
        except SurveyResponse.DoesNotExist as error:
            raise Http404 from error
        try:
            services.customer_feedback_reward_grant(survey_response=answer, by=user, kind=form.cleaned_data["kind"],
                                                    points=form.cleaned_data["points"] or 0,
                                                    note=form.cleaned_data["note"])
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Reward recorded against the survey answer."))
        return redirect("improvement:feedback-rewards")


class ScorecardListView(LoginRequiredMixin, View):
    """RM scorecards for a period: the RM's own card, the branch for its manager, all for head office."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_scorecards(user))
        form = PeriodForm(request.GET, kinds=(PeriodKind.MONTH, PeriodKind.QUARTER))
        default = period_before(PeriodKind.MONTH, period_start_of(PeriodKind.MONTH, timezone.localdate()))
        kind, start = form.period_start(default)
        cards = list(selectors.scorecard_list_visible_to(principal=user, period_kind=kind, period_start=start)[:2000])
        policy = cards[0].policy if cards else ScorecardPolicy.objects.order_by("-version").first()
        return render(request, "improvement/scorecard_list.html", {
            "form": form, "cards": cards, "period_kind": kind, "period_start": start,
            "period_label": period_label(kind, start), "policy": policy,
            "periods": [period_label(kind, p) for p in selectors.scorecard_periods(period_kind=kind)],
            "can_compute": permissions.can_compute_scorecards(user),
            "show_branch": roles.sees_all_branches(user),
        })

    def post(self, request: HttpRequest) -> HttpResponse:
        """Queue the computation of one period's cards (administrators)."""
        _require(permissions.can_compute_scorecards(request.user))
        form = PeriodForm(request.POST, kinds=(PeriodKind.MONTH, PeriodKind.QUARTER))
        default = period_before(PeriodKind.MONTH, period_start_of(PeriodKind.MONTH, timezone.localdate()))
        kind, start = form.period_start(default)
        services.scorecards_compute_request(by=request.user, period_kind=kind, period_start=start)
        messages.success(request, _("The scorecards for %(period)s are being computed.") % {
            "period": period_label(kind, start)})
        return redirect(f"{request.path}?period_kind={kind}&period={period_label(kind, start)}")


class ReviewListView(LoginRequiredMixin, View):
    """Supervision: the quarter's or the year's initiatives with their results, on screen or as CSV."""

    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        _require(permissions.can_view_reviews(user))
        data = request.GET.copy()
        data.setdefault("period_kind", PeriodKind.QUARTER)
        form = PeriodForm(data, kinds=(PeriodKind.QUARTER, PeriodKind.YEAR))
        kind, start = form.period_start(timezone.localdate())
        initiatives = list(selectors.initiatives_in_period(principal=user, period_kind=kind, period_start=start)[:2000])
        for initiative in initiatives:
            initiative.kpi_name = kpis.kpi_label(initiative.kpi_code)
        if request.GET.get("format") == "csv":
            return self._csv(request, initiatives, kind, start)
        return render(request, "improvement/review_list.html", {
            "form": form, "initiatives": initiatives, "period_kind": kind, "period_label": period_label(kind, start),
        })

    def _csv(self, request, initiatives, kind, start) -> HttpResponse:
        services.review_export_record(by=request.user, period_kind=kind, period_start=start, rows=len(initiatives))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="improvement-review-{period_label(kind, start)}.csv"'
        response.write("\ufeff")  # Excel reads UTF-8 (Chinese) only with a byte-order mark
        writer = csv.writer(response)
        writer.writerow([_("Initiative"), _("Branch"), _("Owner"), _("Phase"), _("Target KPI"), _("KPI period"),
                         _("Baseline"), _("Target"), _("Measured"), _("Verdict"), _("From suggestion"),
                         _("Opened"), _("Closed")])
        for i in initiatives:
            writer.writerow([_cell(value) for value in (
                i.title, i.branch.name if i.branch else _("Whole bank"), i.owner.display_name,
                i.get_phase_display(), i.kpi_name, i.check_period_label, i.baseline_value, i.target_value,
                "" if i.measured_value is None else i.measured_value, i.get_verdict_display(),
                i.suggestion.title if i.suggestion else "", i.created_at.date().isoformat(),
                i.closed_at.date().isoformat() if i.closed_at else "",
            )])
        return response
