"""Accounts endpoints: who am I (proves authentication, scopes and throttling end to end)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions
from accounts.api.serializers import MeOutput


class MeRetrieveApi(APIView):
    @extend_schema(responses=MeOutput, summary="The principal making this request")
    def get(self, request):
        principal = request.user
        if permissions.is_api_client(principal):
            api_key = principal.api_key
            data = {
                "kind": "api_key",
                "name": api_key.name,
                "scopes": sorted(principal.scopes),
                "roles": [],
                "branch": api_key.branch.code if api_key.branch_id else None,
            }
        else:
            data = {
                "kind": "user",
                "name": principal.get_username(),
                "scopes": [],
                "roles": sorted(principal.role_names()),
                "branch": principal.branch.code if principal.branch_id else None,
            }
        return Response(MeOutput(data).data)
