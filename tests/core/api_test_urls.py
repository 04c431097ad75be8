"""URLs used only by the API plumbing tests: a tiny scoped, idempotent endpoint under /api/."""

import threading

from django.urls import include, path
from rest_framework import permissions as drf_permissions
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from core.api import RejectUnknownFieldsMixin
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.idempotency import idempotent

CALLS: list[dict] = []
# A POST named "slow" signals SLOW_ENTERED and waits for SLOW_RELEASE, to test a duplicate in flight.
SLOW_ENTERED = threading.Event()
SLOW_RELEASE = threading.Event()


class TestEchoCreateInput(RejectUnknownFieldsMixin, serializers.Serializer):
    name = serializers.CharField(max_length=50)
    amount = serializers.IntegerField(required=False, default=0)


class TestEchoApi(APIView):
    permission_classes = [
        permissions.require_scopes(
            read="customers:read",
            write="customers:write",
            staff_read=permissions.can_view_customers,
            staff_write=permissions.can_record_interaction,
        )
    ]

    def get(self, request):
        return Response({"calls": len(CALLS)})

    @idempotent
    def post(self, request):
        data = TestEchoCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["name"] == "boom":
            raise ApplicationError(ErrorCode.UNAVAILABLE, "The core system is down.")
        if data.validated_data["name"] == "slow":
            SLOW_ENTERED.set()
            SLOW_RELEASE.wait(timeout=10)
        CALLS.append(data.validated_data)
        audit_record(actor=request.user, action="test.echo")
        return Response({"name": data.validated_data["name"], "call": len(CALLS)}, status=status.HTTP_201_CREATED)


class ReadsBodyFirst(drf_permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return bool(request.data) or True


class TestEchoPrereadApi(TestEchoApi):
    """The same endpoint behind a permission that parses the body before the handler runs."""

    permission_classes = [ReadsBodyFirst]


urlpatterns = [
    path("api/test/echo/", TestEchoApi.as_view()),
    path("api/test/echo-preread/", TestEchoPrereadApi.as_view()),
    path("", include("crm_project.urls")),
]
