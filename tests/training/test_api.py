"""The training records API: scopes and row scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import ApiScope, Role
from accounts.services import api_key_create
from tests.accounts.factories import BranchFactory, UserFactory
from tests.training.factories import EnrolmentFactory, course_with_bank

pytestmark = pytest.mark.django_db
URL = "/api/v1/training/records/"


@pytest.fixture
def records(branch):
    course, _m, _b = course_with_bank()
    ours = EnrolmentFactory(course=course, user=UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch))
    theirs = EnrolmentFactory(course=course, user=UserFactory(roles=[Role.RELATIONSHIP_MANAGER],
                                                              branch=BranchFactory(code="ZZ9999")))
    return ours, theirs


def _ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_url_is_named():
    assert reverse("training-api:record-list") == URL


@pytest.mark.parametrize(("role", "sees"), [
    ("rm", set()), ("branch_manager", {"ours"}), ("auditor", {"ours", "theirs"}), ("admin", {"ours", "theirs"}),
    ("complaint_desk", set()),
])
def test_staff_see_their_scope(client_as, records, role, sees):
    ours, theirs = records
    response = client_as(role).get(URL)
    assert response.status_code == 200
    assert _ids(response) == {{"ours": ours.pk, "theirs": theirs.pk}[name] for name in sees}


def test_key_needs_the_training_scope(client, records):
    _key, secret = api_key_create(name="hr", scopes=[ApiScope.CUSTOMERS_READ], by=None)
    assert client.get(URL, HTTP_AUTHORIZATION=f"Api-Key {secret}").status_code == 403
    _key, secret = api_key_create(name="lms", scopes=[ApiScope.TRAINING_READ], by=None)
    response = client.get(URL, HTTP_AUTHORIZATION=f"Api-Key {secret}")
    assert response.status_code == 200 and len(response.json()["results"]) == 2
    assert {"knowledge_gain", "normalised_gain", "pre_score", "post_score"} <= set(response.json()["results"][0])


def test_anonymous_is_refused(client):
    assert client.get(URL).status_code in (401, 403)
