"""The public survey page (no login): one answer per link, expiry, no enumeration, throttling, the reopen link."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import Role
from service import views
from service.models import FollowUpTask, SurveyInvitation, SurveyResponse
from tests.customers.factories import CustomerFactory
from tests.service.factories import invitation_with_token

ANSWER = {"csat": "4", "nps": "9", "score_service": "85", "score_product": "", "score_ease": "90",
          "comment": "很好"}


def survey_url(token: str) -> str:
    return f"/public/surveys/{token}/"


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def customer(branch, make_user):
    return CustomerFactory(branch=branch, relationship_manager=make_user(Role.RELATIONSHIP_MANAGER, username="rmx"))


@pytest.fixture
def open_invitation(customer):
    return invitation_with_token(customer=customer)


def main_block(response) -> bytes:
    """The page body without the header (whose language switch carries the path and a CSRF token)."""
    content = response.content
    return content[content.index(b"<main"):content.index(b"</main>")]


def expire(invitation):
    SurveyInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=20), expires_at=timezone.now() - timedelta(minutes=1)
    )


def test_the_link_opens_the_survey_without_login(client, open_invitation):
    _invitation, token = open_invitation
    response = client.get(survey_url(token), follow=True)
    assert response.status_code == 200
    assert b'name="csat"' in response.content and b'name="nps"' in response.content
    assert response["Referrer-Policy"] == "same-origin" and "no-store" in response["Cache-Control"]
    assert b'name="viewport"' in response.content


def test_answer_is_stored_and_thanked(client, open_invitation):
    invitation, token = open_invitation
    response = client.post(survey_url(token), ANSWER)

    assert response.status_code == 200 and b"Thank you" in response.content
    stored = SurveyResponse.objects.get(invitation=invitation)
    assert (stored.csat, stored.nps, stored.score_service, stored.score_product) == (4, 9, 85, None)
    assert not FollowUpTask.objects.exists()


def test_second_answer_shows_already_answered_and_changes_nothing(client, open_invitation):
    invitation, token = open_invitation
    client.post(survey_url(token), ANSWER)

    again = client.post(survey_url(token), {**ANSWER, "csat": "1", "nps": "0"})
    reopened = client.get(survey_url(token))

    assert again.status_code == 409 and b"already been answered" in again.content
    assert reopened.status_code == 409 and b"already been answered" in reopened.content
    assert SurveyResponse.objects.get(invitation=invitation).csat == 4
    assert not FollowUpTask.objects.exists()


def test_unknown_expired_and_malformed_tokens_get_the_same_page(client, open_invitation, customer):
    """No enumeration: nothing tells an expired link from one that never existed."""
    expired, expired_token = invitation_with_token(customer=customer)
    expire(expired)
    _invitation, valid_token = open_invitation

    responses = [
        client.get(survey_url(expired_token)),
        client.get(survey_url(valid_token[:-1] + ("A" if valid_token[-1] != "A" else "B"))),
        client.get(survey_url("x")),
        client.get(survey_url("y" * 300)),
        client.post(survey_url(expired_token), ANSWER),
    ]

    assert {response.status_code for response in responses} == {404}
    assert len({main_block(response) for response in responses}) == 1
    assert b"not available" in responses[0].content
    assert not SurveyResponse.objects.exists()


def test_invalid_answer_redisplays_the_form(client, open_invitation):
    _invitation, token = open_invitation
    response = client.post(survey_url(token), {"csat": "9", "nps": ""})
    assert response.status_code == 400 and b"invalid-feedback" in response.content
    assert not SurveyResponse.objects.exists()


@pytest.mark.parametrize(("csat", "nps", "follow_up"), [("3", "6", True), ("3", "7", False),
                                                         ("2", "7", True), ("3", "10", False)])
def test_boundaries_through_the_page(client, open_invitation, csat, nps, follow_up):
    _invitation, token = open_invitation
    client.post(survey_url(token), {**ANSWER, "csat": csat, "nps": nps})
    assert FollowUpTask.objects.exists() is follow_up


def test_throttled_after_the_limit(client, open_invitation, monkeypatch):
    monkeypatch.setattr(views, "PUBLIC_SURVEY_RATE_LIMIT", 3)
    _invitation, token = open_invitation

    statuses = [client.get(survey_url(token)).status_code for _ in range(3)]
    throttled = client.post(survey_url(token), ANSWER)

    assert statuses == [302, 302, 302]  # each load trades the token for the session (issue 16)
    assert throttled.status_code == 429 and b"try again" in throttled.content
    assert not SurveyResponse.objects.exists()


def test_throttle_counts_unknown_tokens_too(db, client, monkeypatch):
    monkeypatch.setattr(views, "PUBLIC_SURVEY_RATE_LIMIT", 2)
    statuses = [client.get(survey_url(f"guess-{n}")).status_code for n in range(4)]
    assert statuses == [404, 404, 429, 429]


@pytest.mark.urls("tests.service.urls_public_only")
def test_complaint_survey_without_the_reopen_page_shows_no_link(client, customer):
    """Until complaints provides complaints-public:reopen, the thank-you page has no link (NoReverseMatch)."""
    _invitation, token = invitation_with_token(customer=customer, trigger="complaint", reference="TS-9")

    response = client.post(survey_url(token), {**ANSWER, "csat": "1", "nps": "2"})

    assert response.status_code == 200 and b"complaint-reopen-link" not in response.content


@pytest.mark.urls("tests.service.urls_with_reopen")
def test_dissatisfied_complaint_answer_links_to_reopen(client, customer):
    _invitation, token = invitation_with_token(customer=customer, trigger="complaint", reference="TS-9")

    response = client.post(survey_url(token), {**ANSWER, "csat": "4", "nps": "6"})

    assert b'href="/public/complaints/TS-9/reopen/"' in response.content
    assert b"Reopen your complaint" in response.content


@pytest.mark.urls("tests.service.urls_with_reopen")
@pytest.mark.parametrize(("trigger", "csat", "nps"), [("complaint", "4", "7"), ("service", "1", "0")])
def test_no_reopen_link_when_satisfied_or_not_a_complaint(client, customer, trigger, csat, nps):
    _invitation, token = invitation_with_token(customer=customer, trigger=trigger, reference="TS-9")

    response = client.post(survey_url(token), {**ANSWER, "csat": csat, "nps": nps})

    assert response.status_code == 200 and b"complaint-reopen-link" not in response.content
