"""URLs used only by test_errors.py: a page and an API endpoint that refuse with ApplicationError."""

from django.http import HttpResponse
from django.urls import include, path
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny

from core.errors import ApplicationError, ErrorCode


def refusing_page(request):
    raise ApplicationError(ErrorCode.INVALID_TRANSITION, "Cannot resolve a closed complaint.")


def fine_page(request):
    return HttpResponse("fine")


class TestEchoInput(serializers.Serializer):
    amount_cny = serializers.DecimalField(max_digits=12, decimal_places=2)


@api_view(["POST"])
@permission_classes([AllowAny])
def refusing_api(request):
    raise ApplicationError(ErrorCode.CONFLICT, "Someone else resolved it first.")


@api_view(["POST"])
@permission_classes([AllowAny])
def validating_api(request):
    data = TestEchoInput(data=request.data)
    data.is_valid(raise_exception=True)
    return HttpResponse("ok")


urlpatterns = [
    path("test/refuse/", refusing_page),
    path("test/fine/", fine_page),
    path("api/test/refuse/", refusing_api),
    path("api/test/validate/", validating_api),
    path("", include("crm_project.urls")),
]
