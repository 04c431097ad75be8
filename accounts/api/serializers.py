"""Output shapes of the accounts API."""

from __future__ import annotations

from rest_framework import serializers


class MeOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["api_key", "user"])
    name = serializers.CharField(help_text="The key's name, or the user's username.")
    scopes = serializers.ListField(child=serializers.CharField(), help_text="API keys only; empty for users.")
    roles = serializers.ListField(child=serializers.CharField(), help_text="Users only; empty for API keys.")
    branch = serializers.CharField(allow_null=True, help_text="Branch code the principal is limited to, if any.")
