"""Factories for the service chapter (touchpoints come from the data migration)."""

import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from service.models import (
    ServiceOutcome,
    ServiceRecord,
    SurveyInvitation,
    SurveyResponse,
    Touchpoint,
)
from service.services import survey_token_hash
from tests.customers.factories import CustomerFactory


def touchpoint(code: str = "consultation") -> Touchpoint:
    return Touchpoint.objects.get(code=code)


class ServiceRecordFactory(factory.django.DjangoModelFactory):
    """A record written straight to the table; ``minutes`` sets the handling time."""

    class Meta:
        model = ServiceRecord

    class Params:
        minutes = 10

    customer = factory.SubFactory(CustomerFactory)
    staff = None
    touchpoint = factory.LazyFunction(touchpoint)
    branch = factory.SelfAttribute("customer.branch")
    started_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=2))
    ended_at = factory.LazyAttribute(lambda o: o.started_at + timedelta(minutes=o.minutes))
    handling_seconds = factory.LazyAttribute(lambda o: int(o.minutes * 60))
    target_minutes = factory.LazyAttribute(lambda o: o.touchpoint.target_minutes)
    outcome = ServiceOutcome.COMPLETED


class SurveyInvitationFactory(factory.django.DjangoModelFactory):
    """An invitation written straight to the table; use invitation_with_token to know its token."""

    class Meta:
        model = SurveyInvitation

    customer = factory.SubFactory(CustomerFactory)
    trigger = SurveyInvitation.Trigger.SERVICE
    reference = ""
    token_hash = factory.LazyFunction(lambda: survey_token_hash(secrets.token_urlsafe(32)))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=14))


def invitation_with_token(**kwargs) -> tuple[SurveyInvitation, str]:
    token = secrets.token_urlsafe(32)
    return SurveyInvitationFactory(token_hash=survey_token_hash(token), **kwargs), token


class SurveyResponseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SurveyResponse

    invitation = factory.SubFactory(SurveyInvitationFactory)
    customer = factory.SelfAttribute("invitation.customer")
    csat = 4
    nps = 8
    score_service = 80
    score_product = 75
    score_ease = 85
    comment = ""
    submitted_at = factory.LazyFunction(timezone.now)
