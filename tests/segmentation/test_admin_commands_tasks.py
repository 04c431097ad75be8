"""Admin (policy versions, run now), the management command, the tasks and the demo seeding."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from core.models import OutboxMessage
from segmentation import services, tasks
from segmentation.demo import demo_seed_segmentation
from segmentation.models import SegmentationPolicy, SegmentationRun, ServiceStrategy
from tests.customers.factories import HoldingFactory
from tests.segmentation.conftest import AS_OF, give_services, give_transactions, segment_of

pytestmark = pytest.mark.django_db

ADMIN_MODELS = ["segmentationpolicy", "servicestrategy", "segmentationrun", "customersegment", "segmenthistory",
                "segmentoverride", "recommendationrun", "recommendation", "recommendationfeedback"]


@pytest.mark.parametrize("model", ADMIN_MODELS)
def test_admin_pages_open_for_admins_only(client_as, policy, make_customer, model):
    give_transactions(make_customer(), amounts=[100])
    services.segmentation_run(as_of=AS_OF)
    url = reverse(f"admin:segmentation_{model}_changelist")
    assert client_as("admin", is_staff=True).get(url).status_code == 200


def test_a_segment_page_shows_its_classes_not_its_change_detection_hash(client_as, policy, make_customer):
    customer = make_customer()
    give_transactions(customer, amounts=[100])
    services.segmentation_run(as_of=AS_OF)
    segment = segment_of(customer)
    segment.fingerprint = -228060428208606465  # 18 digits: reads like a resident ID number
    segment.save(update_fields=["fingerprint"])
    page = client_as("admin", is_staff=True).get(
        reverse("admin:segmentation_customersegment_change", args=[segment.pk])).content.decode()
    assert segment.value_class in page and "228060428208606465" not in page


def test_admin_add_policy_creates_a_new_version(client_as, policy):
    admin_client = client_as("admin", is_staff=True)
    initial = admin_client.get(reverse("admin:segmentation_segmentationpolicy_add"))
    assert initial.status_code == 200
    form = initial.context["adminform"].form
    data = {name: form.initial.get(name) for name in services.POLICY_NUMBER_FIELDS}
    data["vip_min_services"] = 6
    data = {name: "" if value is None else value for name, value in data.items()}
    response = admin_client.post(reverse("admin:segmentation_segmentationpolicy_add"), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    latest = SegmentationPolicy.objects.order_by("-version").first()
    assert (latest.version, latest.vip_min_services, latest.weak_credit_ratings) == (2, 6, ["B", "C"])
    assert SegmentationPolicy.objects.get(version=1).vip_min_services == 5


def test_admin_run_now_queues_the_pass(client_as, policy):
    response = client_as("admin", is_staff=True).post(reverse("admin:segmentation_run_now"))
    assert response.status_code == 302
    assert OutboxMessage.objects.filter(task_name=services.SEGMENTATION_RUN_TASK).count() == 1


def test_run_now_is_refused_to_others(client_as, policy):
    client_as("branch_manager", is_staff=True).post(reverse("admin:segmentation_run_now"))
    assert not OutboxMessage.objects.filter(task_name=services.SEGMENTATION_RUN_TASK).exists()


def test_command_prints_progress_and_result(policy, make_customer):
    customer = make_customer()
    give_transactions(customer, amounts=[1_200_000])
    give_services(customer, count=5)
    out = StringIO()
    call_command("run_segmentation", "--as-of", AS_OF.isoformat(), "--recommendations", stdout=out)
    text = out.getvalue()
    assert "[1/4] classes computed" in text and "1 customers classified" in text
    assert "Recommendations:" in text
    assert segment_of(customer).tier == "vip"


def test_tasks_run_the_services(policy, make_customer):
    customer = make_customer()
    tasks.segmentation_run_task.run(as_of=AS_OF.isoformat(), customer_ids=[customer.pk])
    assert SegmentationRun.objects.get().kind == SegmentationRun.Kind.INCREMENTAL
    tasks.segmentation_nightly_task.run()
    assert OutboxMessage.objects.filter(task_name=services.RECOMMENDATION_RUN_TASK).exists()
    tasks.recommendation_run_task.run()
    tasks.segmentation_touched_run_task.run()


def test_demo_seed_creates_defaults_and_tiers(db, make_customer):
    SegmentationPolicy.objects.all().delete()
    ServiceStrategy.objects.all().delete()
    customer = make_customer()
    HoldingFactory(customer=customer)
    summary = demo_seed_segmentation(as_of=date(2026, 6, 30))
    assert summary["policy_version"] == 1 and summary["customers_classified"] == 1
    assert ServiceStrategy.objects.count() == 3
    assert segment_of(customer).tier == "general"
