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
from customers import services as customer_services
from customers.models import Customer
from lifecycle import permissions as lifecycle_permissions
from lifecycle import reasons as reason_words
from lifecycle import selectors, services
from lifecycle.api.serializers import (
    ChurnScoreListOutput,
    ChurnScoreListQueryInput,
    CustomerLifecycleOutput,
    RetentionTaskListOutput,
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
MAX_ID = 2**63 - 1


def _id_or_404(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_ID:
        raise Http404
    return int(raw)


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
        customer_id = _id_or_404(customer_id)
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

    @extend_schema(parameters=[ChurnScoreListQueryInput], responses=ChurnScoreListOutput,
                   summary="Customers scored in the latest run, highest risk first, filtered by risk")
    def get(self, request):
        query = ChurnScoreListQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        run = selectors.churn_score_latest_run()
        offset, limit = query.validated_data["offset"], query.validated_data["limit"]
        scores = list(selectors.churn_score_list_visible_to(
            principal=request.user, min_probability=query.validated_data["min_probability"], run=run,
        ).only("customer_id", "probability", "reasons")[offset:offset + limit + 1]) if run else []
        page = scores[:limit]
        return Response(ChurnScoreListOutput({
            "as_of": run.as_of if run else None, "model_version": run.model.version if run else None,
            "results": [{"customer_id": s.customer_id, "probability": s.probability, "reasons": _reasons(s.reasons)}
                        for s in page],
            "next_offset": offset + limit if len(scores) > limit else None,
        }).data)


class RetentionTaskListApi(APIView):
    permission_classes = [RetentionAccess]

    @extend_schema(parameters=[RetentionTaskListQueryInput], responses=RetentionTaskListOutput,
                   summary="Retention tasks, in id order (keyset paging)")
    def get(self, request):
        query = RetentionTaskListQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit = query.validated_data["limit"]
        tasks = list(selectors.retention_task_list_visible_to(
            principal=request.user, status=query.validated_data.get("status"),
        ).filter(pk__gt=query.validated_data["after"]).order_by("id")[:limit + 1])
        page = tasks[:limit]
        return Response(RetentionTaskListOutput({
            "results": page, "next_after": page[-1].pk if len(tasks) > limit else None,
        }).data)


class RetentionTaskRecordApi(APIView):
    permission_classes = [RetentionAccess]

    @extend_schema(
        parameters=[OpenApiParameter("task_id", int, OpenApiParameter.PATH)],
        request=RetentionTaskRecordInput, responses=RetentionTaskOutput,
        summary="Record the action taken and the outcome of a retention task",
    )
    def post(self, request, task_id: str):
        task_id = _id_or_404(task_id)
        try:
            task = selectors.retention_task_get_visible_to(principal=request.user, task_id=task_id)
        except RetentionTask.DoesNotExist as error:
            raise Http404 from error
        data = RetentionTaskRecordInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.retention_task_record(task_id=task.pk, by=request.user, **data.validated_data)
        return Response(RetentionTaskOutput(task).data)
