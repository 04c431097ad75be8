"""Staff pages of the lifecycle chapter: parse → authorize → one call → render (STYLE.md §6)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from core.errors import ApplicationError
from core.forms import form_add_application_error
from core.pagination import UncountedPage, page_number
from lifecycle import permissions, selectors, services
from lifecycle.forms import AtRiskFilterForm, ModelActivateForm, RetentionRecordForm
from lifecycle.models import STAGE_ORDER, ChurnModel, RetentionTask, Stage

AT_RISK_PAGE_SIZE = 50
STAGE_COLOURS = {Stage.NEW: "#0dcaf0", Stage.GROWTH: "#198754", Stage.MATURE: "#0d6efd",
                 Stage.DECLINE: "#fd7e14", Stage.CHURNED: "#dc3545"}


def _stage_label(value: str) -> str:
    return str(Stage(value).label) if value in Stage.values else value


class LifecycleOverviewView(LoginRequiredMixin, View):
    """Stage distribution and the flows between stages month by month (managers and head office)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_lifecycle_overview(request.user):
            raise PermissionDenied
        counts = selectors.stage_counts(principal=request.user)
        flows = selectors.stage_flows(principal=request.user)
        total = sum(counts.values())
        distribution = [{"stage": stage.value, "label": str(stage.label), "count": counts[stage.value],
                         "share": round(100 * counts[stage.value] / total, 1) if total else 0}
                        for stage in STAGE_ORDER]
        flow_rows = sorted(((sum(series), from_stage, to_stage, series)
                            for (from_stage, to_stage), series in flows["flows"].items()), reverse=True)
        chart = {
            "stages": [row["label"] for row in distribution],
            "counts": [row["count"] for row in distribution],
            "colours": [STAGE_COLOURS[stage] for stage in STAGE_ORDER],
            "months": [month.strftime("%Y-%m") for month in flows["months"]],
            "flows": [
                {"label": f"{_stage_label(from_stage)} → {_stage_label(to_stage)}", "data": series,
                 "colour": STAGE_COLOURS.get(to_stage, "#6c757d")}
                for _total, from_stage, to_stage, series in flow_rows[:8]
            ],
            "count_label": _("Customers"),
        }
        matrix = [
            {"from": _stage_label(stage.value),
             "cells": [flows["matrix"].get((stage.value, to.value), 0) for to in STAGE_ORDER]}
            for stage in STAGE_ORDER
        ]
        return render(request, "lifecycle/overview.html", {
            "distribution": distribution, "total": total, "chart": chart, "matrix": matrix,
            "stage_labels": [str(stage.label) for stage in STAGE_ORDER],
            "latest_run": selectors.churn_score_latest_run(),
            "effect": selectors.retention_effect(principal=request.user),
        })


class AtRiskListView(LoginRequiredMixin, View):
    """The RM's list: customers by churn probability with the model's reasons, and their retention tasks."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_at_risk(request.user):
            raise PermissionDenied
        form = AtRiskFilterForm(request.GET or None)
        min_pct = None
        if form.is_bound and form.is_valid():
            min_pct = form.cleaned_data["min_probability"]
        at_risk = selectors.at_risk_list_visible_to(principal=request.user, min_probability_pct=min_pct)
        run, threshold, min_pct = at_risk.run, at_risk.threshold_pct, at_risk.min_pct
        page = UncountedPage(at_risk.scores, number=page_number(request.GET.get("page")), per_page=AT_RISK_PAGE_SIZE)
        rows = page.object_list
        tasks = {task.customer_id: task for task in selectors.retention_task_list_visible_to(
            principal=request.user).filter(customer_id__in=[row.customer_id for row in rows])}
        items = [{"score": row, "customer": row.customer, "reasons": selectors.reasons_text(row.reasons),
                  "task": tasks.get(row.customer_id)} for row in rows]
        open_tasks = selectors.retention_task_list_visible_to(principal=request.user)[:AT_RISK_PAGE_SIZE]
        return render(request, "lifecycle/at_risk.html", {
            "run": run, "form": form, "items": items, "page": page, "min_pct": min_pct, "threshold": threshold,
            "open_tasks": open_tasks, "record_form": RetentionRecordForm(),
            "can_work": permissions.can_work_retention(request.user),
            "effect": selectors.retention_effect(principal=request.user),
        })


class RetentionTaskRecordView(LoginRequiredMixin, View):
    """The RM records the action taken and the outcome of a retention task."""

    def post(self, request: HttpRequest, task_id: int) -> HttpResponse:
        try:
            task = selectors.retention_task_get_visible_to(principal=request.user, task_id=task_id)
        except RetentionTask.DoesNotExist as error:
            raise Http404 from error
        if not permissions.can_work_retention(request.user):
            raise PermissionDenied
        form = RetentionRecordForm(request.POST)
        if form.is_valid():
            try:
                services.retention_task_record(task_id=task.pk, by=request.user, **form.cleaned_data)
            except ApplicationError as error:
                form_add_application_error(form, error)
            else:
                messages.success(request, _("Retention outcome recorded."))
                return redirect("lifecycle:at-risk")
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect("lifecycle:at-risk")


class ChurnModelListView(LoginRequiredMixin, View):
    """Administrators: metrics, calibration, top features, versions, scoring runs with progress."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_churn_models(request.user):
            raise PermissionDenied
        models = list(selectors.churn_model_list()[:20])
        active = next((model for model in models if model.status == "active"), None)
        shown = active or (models[0] if models else None)
        chart = None
        if shown is not None:
            calibration = shown.metrics.get("calibration", [])
            chart = {
                "predicted": [row[0] for row in calibration], "observed": [row[1] for row in calibration],
                "features": [name for name, _value in shown.top_features[:10]],
                "importance": [value for _name, value in shown.top_features[:10]],
                "observed_label": _("Observed churn rate"), "ideal_label": _("Perfect calibration"),
                "importance_label": _("Mean contribution (log-odds)"),
            }
        return render(request, "lifecycle/models.html", {
            "models": models, "shown": shown, "chart": chart,
            "comparison": list(shown.metrics.get("comparison", {}).items()) if shown else [],
            "runs": selectors.scoring_run_list(),
            "activate_form": ModelActivateForm(), "effect": selectors.retention_effect(principal=request.user),
            "can_manage": permissions.can_manage_churn_models(request.user),
        })


class ScoringRunProgressView(LoginRequiredMixin, View):
    """The runs table alone, polled by htmx while a run is in progress."""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not permissions.can_view_churn_models(request.user):
            raise PermissionDenied
        return render(request, "lifecycle/partials/run_table.html", {"runs": selectors.scoring_run_list()})


class ChurnModelActivateView(LoginRequiredMixin, View):
    def post(self, request: HttpRequest, model_id: int) -> HttpResponse:
        if not permissions.can_manage_churn_models(request.user):
            raise PermissionDenied
        form = ModelActivateForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Say why this version should be activated."))
            return redirect("lifecycle:models")
        try:
            model = services.churn_model_activate(model_id=model_id, by=request.user, note=form.cleaned_data["note"])
        except ChurnModel.DoesNotExist as error:
            raise Http404 from error
        except ApplicationError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Model v%(version)s is now active.") % {"version": model.version})
        return redirect("lifecycle:models")
