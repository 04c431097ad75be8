"""Pages of the training chapter: what each role sees and may do."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from tests.accounts.factories import BranchFactory, UserFactory
from tests.training.factories import EnrolmentFactory, choice_ids, course_with_bank
from training import selectors, services
from training.models import AssessmentStage, Enrolment

pytestmark = pytest.mark.django_db

ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_its_training_page_and_the_catalogue(client_as, role):
    response = client_as(role).get(reverse("training:my-training"))
    assert response.status_code == 200
    assert "Handling complaints within the SLA" in response.content.decode()


def test_anonymous_is_sent_to_log_in(client):
    response = client.get(reverse("training:my-training"))
    assert response.status_code == 302 and "login" in response["Location"]


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("complaint_desk", 403), ("branch_manager", 200),
                                              ("auditor", 200), ("admin", 200)])
def test_records_and_kpis_are_for_managers_and_head_office(client_as, role, status):
    client = client_as(role)
    assert client.get(reverse("training:enrolment-manage")).status_code == status
    assert client.get(reverse("training:kpis")).status_code == status


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("auditor", 403), ("complaint_desk", 403),
                                              ("branch_manager", 302), ("admin", 302)])
def test_only_managers_and_admins_enrol_others(client_as, role, status):
    course, _m, _b = course_with_bank()
    client = client_as(role)
    response = client.post(reverse("training:enrolment-manage"), {
        "course": course.pk, "target": "person", "user": client.user.pk,
        "due_on": (timezone.localdate() + timedelta(days=7)).isoformat()})
    assert response.status_code == status
    assert Enrolment.objects.filter(course=course).exists() is (status == 302)


def test_manager_cannot_enrol_someone_from_another_branch(client_as):
    course, _m, _b = course_with_bank()
    stranger = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"))
    client = client_as("branch_manager")
    response = client.post(reverse("training:enrolment-manage"), {
        "course": course.pk, "target": "person", "user": stranger.pk,
        "due_on": (timezone.localdate() + timedelta(days=7)).isoformat()})
    assert response.status_code == 400
    assert not Enrolment.objects.exists()


def test_manager_sees_the_branchs_records_not_another_branchs(client_as, branch):
    course, _m, _b = course_with_bank(title="Branch course")
    ours = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="ours_rm")
    theirs = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=BranchFactory(code="ZZ9999"), username="theirs_rm")
    EnrolmentFactory(course=course, user=ours)
    EnrolmentFactory(course=course, user=theirs)
    body = client_as("branch_manager").get(reverse("training:enrolment-manage")).content.decode()
    assert "ours_rm" in body and "theirs_rm" not in body


def test_rm_takes_pre_test_module_post_test_and_sees_the_gain(client_as):
    """The learner path through the pages; the test page never carries the right answers."""
    course, modules, bank = course_with_bank()
    client = client_as("rm")
    client.post(reverse("training:course-detail", args=[course.pk]))  # enrol oneself
    test_page = client.get(reverse("training:test", args=[course.pk, "pre"])).content.decode()
    assert "single" in test_page and "correct" not in test_page.lower()
    # Pre-test: only the single-choice question right → 25.
    response = client.post(reverse("training:test", args=[course.pk, "pre"]),
                           {f"q{bank['single'].pk}": choice_ids(bank["single"], "A")[0]})
    assert response.status_code == 302
    result = client.get(response["Location"]).content.decode()
    assert "Score 25" in result and "correct answer" not in result  # the answers wait for the post-test
    for module in modules:
        assert client.post(reverse("training:module-detail", args=[course.pk, module.pk])).status_code == 302
    response = client.post(reverse("training:test", args=[course.pk, "post"]), {
        f"q{bank['single'].pk}": choice_ids(bank["single"], "A")[0],
        f"q{bank['multiple'].pk}": choice_ids(bank["multiple"], "A", "B"),
        f"q{bank['tf1'].pk}": choice_ids(bank["tf1"], "True")[0],
        f"q{bank['tf2'].pk}": choice_ids(bank["tf2"], "False")[0],
    })
    result = client.get(response["Location"]).content.decode()
    assert "Score 100" in result and "Passed." in result and "correct answer" in result
    detail = client.get(reverse("training:course-detail", args=[course.pk])).content.decode()
    assert "75.0 points" in detail and "normalised gain" in detail and "1.00" in detail


def test_learner_cannot_see_another_learners_attempt(client_as, make_user):
    course, _modules, _bank = course_with_bank()
    other = make_user(Role.RELATIONSHIP_MANAGER, username="other")
    attempt = services.attempt_submit(enrolment=EnrolmentFactory(course=course, user=other),
                                      stage=AssessmentStage.PRE, answers={})
    assert client_as("rm").get(reverse("training:attempt-detail", args=[attempt.pk])).status_code == 404


def test_module_body_is_rendered_sanitised_and_the_file_downloads_as_attachment(client_as):
    from django.core.files.uploadedfile import SimpleUploadedFile

    course, modules, _bank = course_with_bank()
    module = modules[0]
    module.body = "<p>Safe</p><script>alert(1)</script>"
    services.course_module_save(module=module, upload=SimpleUploadedFile("g.png", b"\x89PNG\r\n\x1a\nrest",
                                                                         content_type="image/png"))
    client = client_as("rm")
    EnrolmentFactory(course=course, user=client.user)
    page = client.get(reverse("training:module-detail", args=[course.pk, module.pk])).content.decode()
    assert "<p>Safe</p>" in page and "alert(1)" not in page
    response = client.get(reverse("training:module-file", args=[course.pk, module.pk]))
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_kpi_page_shows_completion_pass_rate_and_gain(client_as, branch):
    """Two learners: A pre 25 → post 100 (passed); B pre 50, no post. Completion 50 %, pass rate 100 %,
    mean raw gain 75, mean normalised gain 1.000."""
    course, modules, bank = course_with_bank(title="KPI course")
    a = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    b = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    ea, eb = EnrolmentFactory(course=course, user=a), EnrolmentFactory(course=course, user=b)
    services.attempt_submit(enrolment=ea, stage=AssessmentStage.PRE,
                            answers={bank["single"].pk: choice_ids(bank["single"], "A")})
    services.attempt_submit(enrolment=eb, stage=AssessmentStage.PRE, answers={
        bank["single"].pk: choice_ids(bank["single"], "A"), bank["tf1"].pk: choice_ids(bank["tf1"], "True")})
    for module in modules:
        services.module_complete(enrolment=ea, module=module)
    services.attempt_submit(enrolment=ea, stage=AssessmentStage.POST, answers={
        bank["single"].pk: choice_ids(bank["single"], "A"), bank["multiple"].pk: choice_ids(bank["multiple"], "A", "B"),
        bank["tf1"].pk: choice_ids(bank["tf1"], "True"), bank["tf2"].pk: choice_ids(bank["tf2"], "False")})
    manager = UserFactory(roles=[Role.BRANCH_MANAGER], branch=branch)
    [row] = selectors.training_kpis(principal=manager, group_by="course")
    assert (row.enrolled, row.completion_rate, row.pass_rate) == (2, Decimal("50.0"), Decimal("100.0"))
    assert (row.mean_pre, row.mean_post, row.mean_gain) == (Decimal("37.5"), Decimal("100.0"), Decimal("75.0"))
    assert row.mean_normalised_gain == Decimal("1.000")
    client = client_as("branch_manager")
    body = client.get(reverse("training:kpis")).content.decode()
    assert "KPI course" in body and "50.0%" in body and "100.0%" in body


def test_usage_before_and_after_counts_the_persons_own_records(branch):
    """Given 8 interactions in the 8 weeks before completion and 4 in the 2 weeks since; then 1.00 a week
    before and 2.00 after; handling 20 min against a 10-min standard before (2.00) and 10 against 10 after (1.00)."""
    from customers.models import Interaction
    from tests.customers.factories import CustomerFactory
    from tests.service.factories import ServiceRecordFactory

    course, _m, _b = course_with_bank()
    rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch)
    now = timezone.now()
    completed = now - timedelta(weeks=2, days=1)
    enrolment = EnrolmentFactory(course=course, user=rm, completed_at=completed)
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    for days in range(1, 9):
        Interaction.objects.create(customer=customer, staff=rm, occurred_at=completed - timedelta(days=days * 6),
                                   kind="visit", summary="s")
    for days in range(1, 5):
        Interaction.objects.create(customer=customer, staff=rm, occurred_at=completed + timedelta(days=days * 3),
                                   kind="visit", summary="s")
    ServiceRecordFactory(customer=customer, staff=rm, started_at=completed - timedelta(days=3), minutes=20,
                         target_minutes=10)
    ServiceRecordFactory(customer=customer, staff=rm, started_at=completed + timedelta(days=3), minutes=10,
                         target_minutes=10)
    [change] = selectors.usage_before_after(principal=rm, now=now)
    assert change.enrolment.pk == enrolment.pk and change.weeks_after == 2
    assert (change.interactions_per_week_before, change.interactions_per_week_after) == (Decimal("1.00"),
                                                                                         Decimal("2.00"))
    assert (change.handling_vs_standard_before, change.handling_vs_standard_after) == (Decimal("2.00"),
                                                                                       Decimal("1.00"))


def test_training_pages_in_chinese(client_as, settings):
    """The seeded catalogue has Chinese titles and the page chrome is translated."""
    client = client_as("rm")
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "zh-hans"})
    body = client.get(reverse("training:my-training")).content.decode()
    assert "在时限内处理投诉" in body and "课程目录" in body and "我的课程" in body
    course = selectors.course_list().get(code="service-complaint-handling")
    client.post(reverse("training:course-detail", args=[course.pk]))
    body = client.get(reverse("training:course-detail", args=[course.pk])).content.decode()
    assert "投诉时限" in body and "参加前测" in body
