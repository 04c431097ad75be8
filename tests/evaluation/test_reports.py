"""Reports end to end: content rules, PDF text (Chinese) and XLSX figures, one per period under two
generators, a real Celery worker, the command, and the late-data refresh of snapshots."""

from __future__ import annotations

import io
import threading
import time
from datetime import date

import openpyxl
import pypdf
import pytest
from celery import signals
from django.core.management import CommandError, call_command
from django.db import connection

from complaints.services import complaint_acknowledge, complaint_resolve
from core.models import OutboxMessage
from customers.models import CustomerStatus
from evaluation import selectors, services
from evaluation import tasks as evaluation_tasks  # noqa: F401 (registers the tasks the worker runs)
from evaluation.models import KpiDefinition, KpiSnapshot, PeriodKind, Report, ReportStatus
from evaluation.periods import Period, period_parse
from tests.accounts.factories import BranchFactory
from tests.complaints.factories import make_complaint
from tests.core.test_outbox import (  # noqa: F401 (fixtures)
    broker,
    broker_not_known_to_have_failed,
    celery_app,
    worker_running,
)
from tests.customers.factories import CustomerFactory, TransactionFactory
from tests.evaluation.factories import NOVEMBER, churn_warning, local
from tests.service.factories import SurveyResponseFactory


def _november_data(branch):
    """200 customers, 3 closed in November (retention 98.5 %), 3 complaints of 197 left (1.52 %), 4 answers (75 %)."""
    customers = CustomerFactory.create_batch(197, branch=branch)
    for day in (3, 10, 20):
        CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=date(2026, 11, day))
    for index, cause in enumerate(("C04", "C04", "C01")):
        complaint = make_complaint(customer=customers[index], received_at=local(2026, 11, 2 + index, 9))
        complaint_acknowledge(complaint=complaint, by=None, now=local(2026, 11, 2 + index, 10))
        complaint_resolve(complaint=complaint, by=None, resolution="ok", root_cause=cause,
                          now=local(2026, 11, 2 + index, 12))
    for csat in (5, 4, 4, 2):
        SurveyResponseFactory(invitation__customer=customers[10], csat=csat, nps=9,
                              submitted_at=local(2026, 11, 15, 12))
    return customers


@pytest.mark.django_db
def test_pdf_holds_chinese_kpi_names_figures_and_conclusions(branch):
    _november_data(branch)
    report = services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch.pk)
    report = services.report_generate(report_id=report.pk)
    assert report.status == ReportStatus.DONE and report.data_as_of is not None
    text = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(bytes(report.pdf))).pages)
    compact = text.replace("\n", "").replace(" ", "")
    for name in ("客户保留率", "投诉率", "满意度", "服务响应时间", "数据来源", "结论", "改进建议"):
        assert name in compact, name
    assert "1.52%" in compact  # complaint rate: 3 of the 197 on the books at the end
    assert "75.00%" in compact  # satisfaction: 3 of 4
    # the documented rule: the figure against the target, and the top cause with its share
    assert "未达到<1.00%的目标" in compact
    assert "营销方式" in compact or "marketing" in compact
    assert "66.7%" in compact


@pytest.mark.django_db
def test_xlsx_opens_and_holds_the_same_figures_as_numbers(branch):
    _november_data(branch)
    report = services.report_generate(
        report_id=services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch.pk).pk)
    workbook = openpyxl.load_workbook(io.BytesIO(bytes(report.xlsx)))
    sheet = workbook.worksheets[0]
    rows = {row[0]: row for row in sheet.iter_rows(min_row=5, values_only=True) if row[0]}
    assert rows["complaint_rate"][3] == 1.5228 and isinstance(rows["complaint_rate"][3], float)
    assert rows["satisfaction_rate"][3] == 75.0
    assert rows["retention_rate"][3] == 98.5
    assert rows["complaint_rate"][5] == 1.0  # the target, a number
    assert len(workbook.worksheets) >= 3  # KPIs, trend, conclusions
    content_figures = {row["code"]: row["value"] for row in report.content["kpis"]}
    assert content_figures["complaint_rate"] == rows["complaint_rate"][3]


@pytest.mark.django_db
def test_monthly_report_holds_the_churn_warning_rate(branch):
    # given the 197 customers on the books at the end of November, 4 of whom lifecycle warned in November
    customers = _november_data(branch)
    for customer in customers[:4]:
        churn_warning(customer, created_at=local(2026, 11, 28, 3))
    churn_warning(customers[5], created_at=local(2026, 12, 1, 3))  # December: not in this report
    # when
    report = services.report_generate(
        report_id=services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch.pk).pk)
    # then: 4 / 197 = 2.03 % in the content, the PDF (its Chinese name and figure) and the XLSX (a number)
    row = next(row for row in report.content["kpis"] if row["code"] == "churn_warning_rate")
    assert (row["numerator"], row["denominator"], row["value"]) == (4.0, 197.0, 2.0305)
    compact = "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(bytes(report.pdf))).pages)
    compact = compact.replace("\n", "").replace(" ", "")
    assert "流失预警率2.03%" in compact
    sheet = openpyxl.load_workbook(io.BytesIO(bytes(report.xlsx))).worksheets[0]
    figures = {row[0]: row[3] for row in sheet.iter_rows(min_row=5, values_only=True) if row[0]}
    assert figures["churn_warning_rate"] == 2.0305


@pytest.mark.django_db
def test_bank_report_has_a_branch_table(branch):
    BranchFactory(code="B0303", name="Xicheng Branch")
    CustomerFactory(branch=branch)
    report = services.report_generate(
        report_id=services.report_claim(kind="annual", period=period_parse("2026"), branch_id=None).pk)
    assert {row["branch"] for row in report.content["branches"]} >= {"B0101 Chaoyang Branch",
                                                                       "B0303 Xicheng Branch"}
    names = [sheet.title for sheet in openpyxl.load_workbook(io.BytesIO(bytes(report.xlsx))).worksheets]
    assert len(names) == 4


@pytest.mark.django_db
def test_a_report_covers_its_own_kind_of_period_only(branch):
    with pytest.raises(Exception, match="covers a month"):
        services.report_claim(kind="monthly", period=period_parse("2026-Q4"), branch_id=None)
    with pytest.raises(CommandError):
        call_command("generate_reports", "--kind", "quarterly", "--period", "2026-11")
    with pytest.raises(CommandError):
        call_command("generate_reports", "--kind", "monthly", "--period", "2026-13")


@pytest.mark.django_db
def test_command_queues_the_bank_and_every_branch_once(branch):
    BranchFactory(code="B0303", name="Xicheng Branch")
    BranchFactory(code="HQ", name="Head office", is_head_office=True)
    call_command("generate_reports", "--kind", "monthly", "--period", "2026-11")
    call_command("generate_reports", "--kind", "monthly", "--period", "2026-11")
    reports = Report.objects.filter(kind="monthly", period_start=date(2026, 11, 1))
    assert reports.count() == 3  # bank + 2 branches, head office excluded; the second run added none
    assert OutboxMessage.objects.filter(task_name="evaluation.report_generate_task").count() == 3


@pytest.mark.django_db
def test_annual_report_in_december_covers_the_year_then_ending():
    assert services.report_period_due(kind="annual", now=local(2026, 12, 31, 18)) == period_parse("2026")
    assert services.report_period_due(kind="annual", now=local(2027, 1, 5, 6)) == period_parse("2026")
    assert services.report_period_due(kind="monthly", now=local(2026, 12, 1, 6)) == period_parse("2026-11")
    assert services.report_period_due(kind="quarterly", now=local(2027, 1, 1, 6, 30)) == period_parse("2026-Q4")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_generators_at_once_make_exactly_one_report_per_scope(branch):
    """Two beats (or a beat and the command) claiming the same period: the unique constraint decides."""
    BranchFactory(code="B0303", name="Xicheng Branch")
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = services.report_schedule(kind="monthly", period=NOVEMBER)
        except Exception as error:  # surfaced by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(isinstance(result, list) for result in results), results
    assert sorted(len(result) for result in results) in ([0, 3], [1, 2], [3, 0]) or sum(map(len, results)) == 3
    assert Report.objects.filter(kind="monthly", period_start=NOVEMBER.start).count() == 3
    assert OutboxMessage.objects.filter(task_name="evaluation.report_generate_task").count() == 3


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_report_end_to_end_through_a_real_worker(branch, celery_app, broker, monkeypatch):  # noqa: F811
    """The command queues through the outbox; a real Celery worker (own thread, own connection) builds it."""
    celery_app.conf.task_default_queue = "reports"  # the worker consumes the queue reports go to
    # The KPI definitions come from a data migration, restored by serialized rollback: without them the
    # reports are built empty and no snapshot exists (what happened after a browser test; tests/conftest.py).
    assert KpiDefinition.objects.filter(code="retention_rate").exists(), "KPI definitions missing at setup"
    CustomerFactory.create_batch(3, branch=branch)
    call_command("generate_reports", "--kind", "monthly", "--period", "2026-11")
    report_ids = list(Report.objects.values_list("pk", flat=True))
    assert len(report_ids) == 2  # the bank and the branch
    def close_worker_connection(**kwargs) -> None:
        connection.close()  # the worker thread's own connection, so the test database can be dropped

    signals.task_postrun.connect(close_worker_connection)
    with worker_running(celery_app, monkeypatch):
        deadline = time.monotonic() + 120
        while Report.objects.filter(status__in=[ReportStatus.QUEUED, ReportStatus.RUNNING]).exists():
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    signals.task_postrun.disconnect(close_worker_connection)
    reports = list(Report.objects.all())
    assert {report.status for report in reports} == {ReportStatus.DONE}, [(r.status, r.error) for r in reports]
    assert all(bytes(report.pdf).startswith(b"%PDF") for report in reports)
    assert selectors.kpi_snapshot_value(kpi_code="retention_rate", period_kind="month",
                                        period_start=NOVEMBER.start, branch_id=branch.pk) is not None


@pytest.mark.django_db
def test_late_data_recomputes_the_period_it_belongs_to(branch):
    """A transaction for October arriving in December recomputes October (and its quarter and year)."""
    customer = CustomerFactory(branch=branch)
    now = local(2026, 12, 4, 3, 30)
    first = services.kpi_snapshots_refresh(now=now)
    assert "month:2026-10" in first and "month:2025-12" in first  # the first run fills 25 months
    october = Period(PeriodKind.MONTH, date(2026, 10, 1))
    assert selectors.kpi_snapshot_value(kpi_code="active_rate", period_kind="month",
                                        period_start=october.start) == 0
    # when a late October transaction arrives
    TransactionFactory(customer=customer, occurred_at=local(2026, 10, 15, 12))
    second = services.kpi_snapshots_refresh(now=local(2026, 12, 5, 3, 30))
    # then October, Q4 and 2026 are recomputed; September is not
    assert {"month:2026-10", "quarter:2026-Q4", "year:2026"} <= set(second)
    assert "month:2026-09" not in second
    assert selectors.kpi_snapshot_value(kpi_code="active_rate", period_kind="month",
                                        period_start=october.start) == 100
    stamps = KpiSnapshot.objects.filter(period_start=october.start, period_kind="month").order_by().values_list(
        "data_as_of", flat=True).distinct()
    assert list(stamps) == [local(2026, 12, 5, 3, 30)]


@pytest.mark.django_db
def test_a_branch_report_on_its_own_recomputes_its_branch_and_a_bank_report_every_scope(branch):
    """A branch's report recomputes the period's snapshots of that branch only (the rows it reads, from
    the data as it now is); in a batch the bank's report recomputes every scope and the branch reports
    claimed with it reuse them."""
    other = BranchFactory(code="B0303", name="Xicheng Branch")
    CustomerFactory.create_batch(3, branch=branch)
    CustomerFactory(branch=other)
    services.kpi_snapshots_compute(period=NOVEMBER, now=local(2026, 12, 1))

    def computed(**scope):
        return set(KpiSnapshot.objects.filter(period_start=NOVEMBER.start, **scope).values_list("computed_at",
                                                                                             flat=True))

    before_others = computed(branch_id=other.pk) | computed(scope__in=["bank", "rm"])
    CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=date(2026, 11, 9))
    report = services.report_generate(
        report_id=services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch.pk).pk)

    assert computed(branch_id=other.pk) | computed(scope__in=["bank", "rm"]) == before_others
    rows = {row["code"]: row for row in report.content["kpis"]}
    assert rows["retention_rate"]["value"] == 75.0  # 3 of the 4 on the books on 1 November
    assert selectors.kpi_snapshot_value(kpi_code="retention_rate", period_kind=PeriodKind.MONTH,
                                        period_start=NOVEMBER.start) == 100  # the bank's row as it was

    # a batch (as beat runs it): every report claimed, then generated, the bank's first
    claimed = [services.report_claim(kind="monthly", period=NOVEMBER, branch_id=scope).pk for scope in (None, other.pk)]
    bank, again = (services.report_generate(report_id=pk) for pk in claimed)
    assert len(computed()) == 1 and bank.data_as_of == KpiSnapshot.objects.values_list("data_as_of", flat=True)[0]
    assert selectors.kpi_snapshot_value(kpi_code="retention_rate", period_kind=PeriodKind.MONTH,
                                        period_start=NOVEMBER.start) == 80  # 4 of 5
    assert again.data_as_of == bank.data_as_of
