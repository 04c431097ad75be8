"""Demo data: demo_seed_service writes a consistent, deterministic set of services, answers and follow-ups."""

from datetime import date

import pytest
from django.db.models import Q
from django.utils import timezone

from accounts.models import Role
from core.workdays import working_days_add
from service.demo import demo_seed_service
from service.models import FollowUpTask, OutboundMessage, ServiceRecord, SurveyInvitation, SurveyResponse
from service.services import service_policy_latest
from tests.customers.factories import CustomerFactory

AS_OF = date(2026, 11, 28)


@pytest.fixture
def demo_customers(branch, make_user):
    rms = [make_user(Role.RELATIONSHIP_MANAGER, username=f"demo_rm{n}") for n in range(3)]
    return [CustomerFactory(branch=branch, relationship_manager=rms[n % 3]) for n in range(60)]


def summary() -> tuple:
    return (
        list(ServiceRecord.objects.order_by("customer_id", "started_at").values_list(
            "customer_id", "touchpoint_id", "started_at", "handling_seconds", "outcome")),
        list(SurveyResponse.objects.order_by("customer_id", "submitted_at").values_list("customer_id", "csat", "nps")),
    )


def test_demo_seed_writes_consistent_rows(demo_customers):
    result = demo_seed_service(seed=7, as_of=AS_OF)

    assert result["service_records"] == ServiceRecord.objects.count() > 60
    assert result["invitations"] == SurveyInvitation.objects.count() > 0
    assert result["responses"] == SurveyResponse.objects.count() > 0
    assert result["follow_ups"] == FollowUpTask.objects.count()
    assert ServiceRecord.objects.filter(handling_seconds__gt=0).count() == result["service_records"]
    assert ServiceRecord.objects.overrun().exists() and ServiceRecord.objects.exclude(
        pk__in=ServiceRecord.objects.overrun()).exists()
    dissatisfied = SurveyResponse.objects.filter(Q(nps__lte=6) | Q(csat__lte=2))
    assert FollowUpTask.objects.count() == dissatisfied.count()
    assert SurveyResponse.objects.filter(topics__isnull=False).exists()
    assert OutboundMessage.objects.count() == len(result["sample_survey_links"]) == 3


def test_demo_seed_is_deterministic(demo_customers):
    demo_seed_service(seed=7, as_of=AS_OF)
    first = summary()
    SurveyResponse.objects.all().delete()
    SurveyInvitation.objects.all().delete()
    ServiceRecord.objects.all().delete()

    demo_seed_service(seed=7, as_of=AS_OF)

    assert summary() == first


def test_demo_links_open_answerable_surveys(client, demo_customers):
    links = demo_seed_service(seed=3, as_of=AS_OF)["sample_survey_links"]
    assert client.get(links[0], follow=True).status_code == 200  # the token is traded for a session first


def test_demo_seed_without_customers_does_nothing(db):
    assert demo_seed_service(seed=1, as_of=AS_OF)["service_records"] == 0


def test_demo_follow_ups_are_due_in_working_days_like_real_ones(demo_customers):
    """The demo's SQL counts working days the way core.workdays.working_days_add does."""
    demo_seed_service(seed=7, as_of=AS_OF)

    tasks = list(FollowUpTask.objects.select_related("response"))
    assert tasks
    for task in tasks:
        answered_on = timezone.localdate(task.response.submitted_at)
        assert task.due_on == working_days_add(answered_on, service_policy_latest().follow_up_due_working_days)
