"""Lifecycle endpoints: a customer's stage, churn score and reasons; the scored list; retention tasks.

API keys need ``lifecycle:read`` (stage and scores), ``retention:read`` / ``retention:write`` (tasks);
a key limited to a branch sees that branch. Staff read through their customer scope (accounts.scope).
A customer or task outside the scope is a 404.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.models import ApiScope
from core.api import path_id_or_404
from core.api.pagination import KeysetPagination
from customers import services as customer_services
from customers.models import Customer
from lifecycle import permissions as lifecycle_permissions
from lifecycle import reasons as reason_words
from lifecycle import selectors, services
from lifecycle.api.serializers import (
    ChurnScoreListItemOutput,
    ChurnScoreListQueryInput,
    CustomerLifecycleOutput,
    RetentionTaskListQueryInput,
    RetentionTaskOutput,
    RetentionTaskRecordInput,
)
from lifecycle.models import RetentionTask

LifecycleRead = permissions.require_scopes(read=ApiScope.LIFECYCLE_READ.value,
                                           staff_read=lifecycle_permissions.can_view_at_risk)
RetentionAccess = permissions.require_scopes(read=ApiScope.RETENTION_READ.value, write=ApiScope.RETENTION_WRITE.value,
                                             staff_read=lifecycle_permissions.can_view_at_risk,
                                             staff_write=lifecycle_permissions.can_work_retention)


class ChurnScorePagination(KeysetPagination):
    ordering = ("-probability", "customer_id")  # highest risk first; one score per customer in a run


class RetentionTaskPagination(KeysetPagination):
    ordering = ("id",)


def _reasons(reasons: list[dict]) -> list[dict]:
    return [{"code": r.get("code", ""), "text": reason_words.reason_text(r), "contribution": r.get("contribution", 0),
             "params": r.get("params", {})} for r in reasons or []]


class CustomerLifecycleRetrieveApi(APIView):
    permission_classes = [LifecycleRead]

    @extend_schema(
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH, description="The CRM customer id.")],
        responses=CustomerLifecycleOutput, summary="A customer's lifecycle stage, churn probability and reasons",
    )
    def get(self, request, customer_id: str):
        customer_id = path_id_or_404(customer_id)
        try:
            customer = selectors.customer_get_visible_to(principal=request.user, customer_id=customer_id)
        except Customer.DoesNotExist as error:
            customer_services.customer_out_of_scope_record(user=request.user, customer_id=customer_id)
            raise Http404 from error
        stage = selectors.stage_for(customer=customer)
        score = selectors.churn_score_for(customer=customer)
        strategy = selectors.strategy_for(stage=stage.stage) if stage else None
        data = {
            "customer_id": customer.pk,
            "stage": None if stage is None else {
                "stage": stage.stage, "rule": stage.rule, "since": stage.since, "as_of": stage.as_of,
                "policy": stage.policy, "figures": stage.figures,
                "next_action": strategy.action if strategy else None,
            },
            "churn": None if score is None else {
                "probability": score.probability, "raw_score": score.raw_score, "as_of": score.run.as_of,
                "model_version": score.run.model.version, "run_id": score.run_id, "reasons": _reasons(score.reasons),
            },
        }
        return Response(CustomerLifecycleOutput(data).data)


class ChurnScoreListApi(APIView):
    permission_classes = [LifecycleRead]
    pagination_class = ChurnScorePagination

    @extend_schema(parameters=[ChurnScoreListQueryInput], responses=ChurnScoreListItemOutput(many=True),
                   summary="Customers scored in the latest run, highest risk first, filtered by risk")
    def get(self, request):
        query = ChurnScoreListQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = selectors.churn_score_latest_run()
        scores = selectors.churn_score_list_visible_to(
            principal=request.user, min_probability=query.validated_data["min_probability"], run=run,
        ).select_related(None).only("customer_id", "probability", "reasons")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(scores, request, view=self)
        return paginator.get_paginated_response(ChurnScoreListItemOutput([
            {"customer_id": s.customer_id, "probability": s.probability, "reasons": _reasons(s.reasons),
             "as_of": run.as_of, "model_version": run.model.version, "run_id": run.pk} for s in page
        ], many=True).data)


class RetentionTaskListApi(APIView):
    permission_classes = [RetentionAccess]
    pagination_class = RetentionTaskPagination

    @extend_schema(parameters=[RetentionTaskListQueryInput], responses=RetentionTaskOutput(many=True),
                   summary="Retention tasks, in id order")
    def get(self, request):
        query = RetentionTaskListQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        tasks = selectors.retention_task_list_visible_to(principal=request.user,
                                                         status=query.validated_data.get("status"))
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(RetentionTaskOutput(page, many=True).data)


class RetentionTaskRecordApi(APIView):
    permission_classes = [RetentionAccess]

    @extend_schema(
        parameters=[OpenApiParameter("task_id", int, OpenApiParameter.PATH)],
        request=RetentionTaskRecordInput, responses=RetentionTaskOutput,
        summary="Record the action taken and the outcome of a retention task",
    )
    def post(self, request, task_id: str):
        task_id = path_id_or_404(task_id)
        try:
            task = selectors.retention_task_get_visible_to(principal=request.user, task_id=task_id)
        except RetentionTask.DoesNotExist as error:
            raise Http404 from error
        data = RetentionTaskRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.retention_task_record(task_id=task.pk, by=request.user, **data.validated_data)
        return Response(RetentionTaskOutput(task).data)
