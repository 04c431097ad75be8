"""The quarterly report holds the quarterly training evaluation (MANUAL Ch. 5), registered by training
through core.reports: figures on hand-made data with known answers, in the content, the PDF and the XLSX."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pypdf
import pytest

from accounts.models import Role
from core import reports
from evaluation import services
from evaluation.periods import period_parse
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory, InteractionFactory
from tests.evaluation.factories import local
from tests.training.factories import CourseFactory, EnrolmentFactory
from training.models import AssessmentStage, Attempt

pytestmark = pytest.mark.django_db
Q2 = period_parse("2026-Q2")  # old enough that every 8-week "after" window has ended


def _attempt(enrolment, stage: str, score: str, *, passed: bool, at) -> None:
    Attempt.objects.create(enrolment=enrolment, stage=stage, number=1, answers={}, question_count=10,
                           correct_count=int(Decimal(score)) // 10, score_pct=Decimal(score), pass_mark_pct=60,
                           passed=passed, submitted_at=at)


@pytest.fixture
def training(branch):
    """Course 投诉处理 in the branch, 4 enrolments due in Q2 2026:
    u1 pre 40 / post 70, completed 15 Apr; u2 pre 60 / post 80, completed 20 May;
    u3 pre 50 / post 50 (failed), not completed; u4 no test, not completed.
    Left out: an enrolment due in Q1, and one of another branch.
    Interactions recorded: u1 8 in the 8 weeks before completing, 16 in the 8 after; u2 none before, 8 after."""
    course = CourseFactory(title="Complaint handling", title_zh="投诉处理")
    users = [UserFactory(username=f"learner{n}", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
             for n in range(1, 5)]
    enrolments = [EnrolmentFactory(course=course, user=user, due_on=date(2026, 6, 30)) for user in users]
    completed = {0: local(2026, 4, 15, 10), 1: local(2026, 5, 20, 10)}
    for index, (pre, post, passed) in enumerate((("40", "70", True), ("60", "80", True), ("50", "50", False))):
        _attempt(enrolments[index], AssessmentStage.PRE, pre, passed=False, at=local(2026, 4, 1, 9))
        _attempt(enrolments[index], AssessmentStage.POST, post, passed=passed, at=local(2026, 4, 14, 9))
    for index, at in completed.items():
        enrolments[index].completed_at = at
        enrolments[index].save(update_fields=["completed_at"])
    customer = CustomerFactory(branch=branch)
    for week in range(8):
        offset = timedelta(weeks=week, days=1)
        InteractionFactory(customer=customer, staff=users[0], occurred_at=completed[0] - offset)
        for _ in range(2):
            InteractionFactory(customer=customer, staff=users[0], occurred_at=completed[0] + offset)
        InteractionFactory(customer=customer, staff=users[1], occurred_at=completed[1] + offset)
    other_course = CourseFactory(title="Data analysis", title_zh="数据分析")
    EnrolmentFactory(course=other_course, user=users[3], due_on=date(2026, 3, 31))  # Q1: not this quarter
    elsewhere = UserFactory(username="elsewhere", branch=BranchFactory(code="B0808", name="Elsewhere"),
                            roles=[Role.RELATIONSHIP_MANAGER])
    EnrolmentFactory(course=course, user=elsewhere, due_on=date(2026, 5, 31))  # another branch
    return course


def test_training_registers_its_section_for_quarterly_reports_only():
    assert [section.key for section in reports.report_sections_for(kind="quarterly")] == ["training"]
    assert reports.report_sections_for(kind="monthly") == []


def test_quarterly_report_holds_the_training_evaluation_in_content_pdf_and_xlsx(branch, training):
    # when the branch's Q2 report is generated (in its language, zh-hans)
    report = services.report_generate(
        report_id=services.report_claim(kind="quarterly", period=Q2, branch_id=branch.pk).pk)
    # then the content holds the section, with the course row and the usage rows
    section = next(section for section in report.content["sections"] if section["key"] == "training")
    assert section["title"] == "季度培训评估"
    by_course, usage = section["tables"]
    # enrolled 4, completed 2 (50 %), post-tested 3, passed 2 (66.7 %), mean pre 50, post 66.7,
    # gains 30, 20, 0 -> 16.7 points; normalised 0.5, 0.5, 0 -> 0.333
    assert by_course["rows"][0] == ["投诉处理", 4, 2, 50.0, 3, 66.7, 50.0, 66.7, 16.7, 0.333]
    assert by_course["rows"][-1][1:4] == [4, 2, 50.0]  # the total row: the other branch's and Q1's left out
    # u1: 1.00 interaction a week before, 2.00 after; u2: 0.00 before, 1.00 after
    assert [(row[0], row[3], row[4]) for row in usage["rows"]] == [("learner1", 1.0, 2.0), ("learner2", 0.0, 1.0)]
    assert "0.50" in section["paragraphs"][1] and "1.50" in section["paragraphs"][1]  # the means over the two
    # the PDF shows the section and the figures
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(bytes(report.pdf))).pages)
    compact = text.replace("\n", "").replace(" ", "")
    for expected in ("季度培训评估", "投诉处理", "50.00", "66.70", "16.70", "0.33"):
        assert expected in compact, expected
    # the XLSX has the course table as a sheet, figures as numbers
    workbook = openpyxl.load_workbook(io.BytesIO(bytes(report.xlsx)))
    sheets = [sheet for sheet in workbook.worksheets if sheet.cell(row=1, column=1).value == "季度培训评估"]
    assert len(sheets) == 2
    rows = list(sheets[0].iter_rows(min_row=3, values_only=True))
    assert rows[0] == ("投诉处理", 4, 2, 50.0, 3, 66.7, 50.0, 66.7, 16.7, 0.333)
    assert all(cell.data_type == "n" for cell in sheets[0][3][1:])  # numbers, not text
    usage_rows = list(sheets[1].iter_rows(min_row=3, values_only=True))
    assert [(row[0], row[3], row[4]) for row in usage_rows] == [("learner1", 1.0, 2.0), ("learner2", 0.0, 1.0)]


def test_the_banks_quarterly_report_counts_every_branch(branch, training):
    report = services.report_generate(
        report_id=services.report_claim(kind="quarterly", period=Q2, branch_id=None).pk)
    section = next(section for section in report.content["sections"] if section["key"] == "training")
    assert section["tables"][0]["rows"][0][:3] == ["投诉处理", 5, 2]  # the other branch's enrolment too


def test_the_report_page_shows_the_training_section(client_as, branch, training):
    report = services.report_generate(
        report_id=services.report_claim(kind="quarterly", period=Q2, branch_id=branch.pk).pk)
    html = client_as("branch_manager").get(f"/evaluation/reports/{report.pk}/").content.decode()
    assert "季度培训评估" in html and "投诉处理" in html and "66.7" in html
