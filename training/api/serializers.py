"""Shapes of the training API (unique names; shape only)."""

from __future__ import annotations

from rest_framework import serializers

from core.api import QueryInput
from training.models import knowledge_gain


class TrainingRecordQueryInput(QueryInput):
    course = serializers.SlugField(required=False, max_length=40, help_text="A course code.")
    completed = serializers.BooleanField(required=False, allow_null=True, default=None)


class TrainingRecordOutput(serializers.Serializer):
    id = serializers.IntegerField()
    course = serializers.CharField(source="course.code")
    course_title = serializers.CharField(source="course.title")
    staff_username = serializers.CharField(source="user.username")
    staff_number = serializers.CharField(source="user.staff_number", allow_null=True)
    branch = serializers.CharField(source="branch.code", allow_null=True, default=None)
    due_on = serializers.DateField()
    enrolled_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    pre_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    post_score = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    post_passed = serializers.BooleanField()
    knowledge_gain = serializers.SerializerMethodField(help_text="Post-test minus pre-test, in points.")
    normalised_gain = serializers.SerializerMethodField(
        help_text="(post - pre) / (100 - pre) (Hake); null when either is missing or pre is 100.")

    def get_knowledge_gain(self, obj) -> str | None:
        raw, _normalised = knowledge_gain(obj.pre_score, obj.post_score)
        return None if raw is None else f"{raw:.2f}"

    def get_normalised_gain(self, obj) -> str | None:
        _raw, normalised = knowledge_gain(obj.pre_score, obj.post_score)
        return None if normalised is None else f"{normalised:.3f}"
