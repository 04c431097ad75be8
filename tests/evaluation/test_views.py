"""Pages: the home dashboard per role, KPIs with drill-down, reports, exports; permissions per role."""

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.urls import reverse

from accounts.models import Role
from core.models import AuditEvent, OutboxMessage
from customers.models import CustomerStatus
from evaluation import services
from evaluation.models import PeriodKind, Report
from evaluation.periods import Period
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory
from tests.evaluation.factories import NOVEMBER, churn_warning, compute, local

pytestmark = pytest.mark.django_db
ROLES = ["rm", "branch_manager", "complaint_desk", "auditor", "admin"]


@pytest.fixture
def figures(branch):
    """November: 4 customers of the branch, one closed in November (retention 75 %)."""
    CustomerFactory.create_batch(3, branch=branch)
    CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=date(2026, 11, 20))
    compute()
    return branch


@pytest.mark.parametrize("role", ROLES)
def test_home_is_a_dashboard_for_every_role(client_as, figures, role):
    client = client_as(role)
    response = client.get(reverse("home"), {"period": "2026-11"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1" in html and html.count("<h1") == 1
    if role in ("branch_manager", "auditor", "admin"):
        # branch and bank figures: 3 of 4 retained
        assert "75.00 %" in html
    if role == "branch_manager":
        assert "Relationship managers ranked" in html or "客户经理" in html
    if role in ("auditor", "admin"):
        assert figures.name in html  # the all-branches table


def test_home_without_a_role_is_the_welcome_page(client, make_user):
    user = make_user(None, username="norole")
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert b"kpi-charts-data" not in response.content


def test_rm_dashboard_shows_their_own_figures_and_work(client_as, branch):
    client = client_as("rm")
    mine = CustomerFactory(branch=branch, relationship_manager=client.user)
    CustomerFactory(branch=branch, relationship_manager=client.user, status=CustomerStatus.CLOSED,
                    closed_on=date(2026, 11, 3))
    CustomerFactory(branch=branch)  # someone else's
    make_complaint(customer=mine, received_at=local(2026, 12, 1, 9))
    compute()
    html = client.get(reverse("home"), {"period": "2026-11"}).content.decode()
    assert "50.00 %" in html  # my retention: 1 of 2
    assert mine.external_id in html or mine.name[0] in html  # my customer with an open complaint


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 200),
                                              ("auditor", 200), ("admin", 200)])
def test_kpi_list_per_role(client_as, figures, role, status):
    response = client_as(role).get(reverse("evaluation:kpi-list"), {"period": "2026-11", "scope": "bank"})
    assert response.status_code == status
    assert "75.00 %" in response.content.decode()


def test_kpi_list_refuses_another_branch_to_a_branch_manager(client_as, figures):
    other = BranchFactory(code="B0909", name="Other")
    client = client_as("branch_manager")
    assert client.get(reverse("evaluation:kpi-list"), {"scope": "branch", "branch": other.pk}).status_code == 404
    assert client.get(reverse("evaluation:kpi-list"), {"scope": "branch", "branch": figures.pk}).status_code == 200


def test_rm_cannot_see_another_rms_figures(client_as, branch):
    other_rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="other_rm")
    client = client_as("rm")
    assert client.get(reverse("evaluation:kpi-list"), {"scope": "rm", "rm": other_rm.pk}).status_code == 404
    assert client.get(reverse("evaluation:kpi-list"), {"scope": "rm", "rm": client.user.pk}).status_code == 200


def test_drill_down_lists_the_rows_behind_churn(client_as, figures):
    client = client_as("branch_manager")
    response = client.get(reverse("evaluation:kpi-detail", args=["churn_rate"]),
                          {"period": "2026-11", "scope": "branch", "branch": figures.pk})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 1
    assert response.context["page"][0].closed_on == date(2026, 11, 20)


def test_drill_down_lists_the_customers_behind_the_churn_warning_rate(client_as, branch):
    warned, _calm = CustomerFactory(branch=branch, name="预警客户"), CustomerFactory(branch=branch)
    churn_warning(warned, created_at=local(2026, 11, 12, 3))
    churn_warning(CustomerFactory(branch=branch), created_at=local(2026, 12, 2, 3))  # December
    compute(codes=["churn_warning_rate"])
    response = client_as("branch_manager").get(reverse("evaluation:kpi-detail", args=["churn_warning_rate"]),
                                               {"period": "2026-11", "scope": "branch", "branch": branch.pk})
    assert response.status_code == 200
    assert [customer.pk for customer in response.context["page"]] == [warned.pk]
    assert "33.33 %" in response.content.decode()  # 1 of the 3 on the books


def test_drill_down_is_scoped_to_what_the_user_sees(client_as, branch):
    client = client_as("rm")
    CustomerFactory(branch=branch, status=CustomerStatus.CLOSED, closed_on=date(2026, 11, 20))  # not theirs
    compute()
    response = client.get(reverse("evaluation:kpi-detail", args=["churn_rate"]), {"period": "2026-11",
                                                                                  "scope": "bank"})
    assert response.status_code == 200
    assert response.context["page"].paginator.count == 0


def test_kpi_export_has_numbers_as_numbers_and_is_audited(client_as, figures):
    client = client_as("admin")
    response = client.get(reverse("evaluation:kpi-list"), {"period": "2026-11", "scope": "bank", "format": "xlsx"})
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["retention_rate"][5] == 75.0
    assert AuditEvent.objects.filter(action="evaluation.list_export").exists()


def test_customer_export_masks_pii_neutralises_formulas_and_is_audited(client_as, branch):
    client = client_as("branch_manager")
    CustomerFactory(branch=branch, name="=HYPERLINK(1)", phone="13912345678")
    response = client.get(reverse("evaluation:list-export", args=["customers"]), {"format": "csv"})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[1][1] == "'=HYPERLINK(1)"
    assert "13912345678" not in response.content.decode()
    event = AuditEvent.objects.get(action="evaluation.list_export")
    assert event.detail["rows"] == 1 and event.detail["revealed"] is False


def test_customer_export_reveals_only_with_reveal_rights(client_as, branch):
    CustomerFactory(branch=branch, phone="13912345678")
    revealer = client_as("branch_manager")
    assert b"13912345678" in revealer.get(reverse("evaluation:list-export", args=["customers"]),
                                          {"format": "csv", "reveal": "1"}).content
    auditor = client_as("auditor", username="aud2")
    assert b"13912345678" not in auditor.get(reverse("evaluation:list-export", args=["customers"]),
                                             {"format": "csv", "reveal": "1"}).content


def test_customer_export_follows_the_list_filters_and_scope(client_as, branch):
    client = client_as("rm")
    CustomerFactory(branch=branch, relationship_manager=client.user, name="王小明")
    CustomerFactory(branch=branch, relationship_manager=client.user, name="李四")
    CustomerFactory(branch=branch, name="王大明")  # not the RM's
    response = client.get(reverse("evaluation:list-export", args=["customers"]), {"format": "xlsx", "q": "王"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert names == ["王小明"]


def test_complaint_export_for_the_desk(client_as, branch):
    client = client_as("complaint_desk")
    make_complaint(branch=branch, received_at=local(2026, 12, 1, 9))
    response = client.get(reverse("evaluation:list-export", args=["complaints"]), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and rows[1][0].startswith("TS")
    assert "13800001234" not in response.content.decode()


def test_export_needs_a_role(client, make_user):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(reverse("evaluation:list-export", args=["customers"]), {"format": "csv"}).status_code == 403


# --- Reports -------------------------------------------------------------------------------------


@pytest.fixture
def report(figures):
    claimed = services.report_claim(kind="monthly", period=NOVEMBER, branch_id=figures.pk)
    return services.report_generate(report_id=claimed.pk)


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
def test_report_pages_per_role(client_as, report, role, status):
    client = client_as(role)
    assert client.get(reverse("evaluation:report-list")).status_code == status
    assert client.get(reverse("evaluation:report-detail", args=[report.pk])).status_code == status
    download = client.get(reverse("evaluation:report-download", args=[report.pk, "pdf"]))
    assert download.status_code == status
    if status == 200:
        assert download["Content-Type"] == "application/pdf"


def test_branch_manager_cannot_open_another_branchs_report(client_as, report):
    other = BranchFactory(code="B0808", name="Other")
    client = client_as("branch_manager", branch=other, username="bm_other")
    assert client.get(reverse("evaluation:report-detail", args=[report.pk])).status_code == 404


def test_report_download_is_audited(client_as, report):
    client_as("admin").get(reverse("evaluation:report-download", args=[report.pk, "xlsx"]))
    assert AuditEvent.objects.filter(action="evaluation.report_download", target_id=str(report.pk)).exists()


def test_regenerate_adds_a_revision_and_keeps_the_first(client_as, report):
    client = client_as("branch_manager")
    response = client.post(reverse("evaluation:report-regenerate", args=[report.pk]))
    assert response.status_code == 302
    revisions = list(Report.objects.filter(kind="monthly", period_start=NOVEMBER.start,
                                           branch_id=report.branch_id).order_by("revision"))
    assert [r.revision for r in revisions] == [1, 2]
    assert OutboxMessage.objects.filter(task_name="evaluation.report_generate_task",
                                        kwargs={"report_id": revisions[1].pk}).exists()
    services.report_generate(report_id=revisions[1].pk)  # what the worker does
    revisions[1].refresh_from_db()
    assert revisions[1].status == "done"
    revisions[0].refresh_from_db()
    assert bytes(revisions[0].pdf) == bytes(report.pdf)


def test_regenerate_refused_to_auditor(client_as, report):
    assert client_as("auditor").post(reverse("evaluation:report-regenerate", args=[report.pk])).status_code == 403
    assert Report.objects.count() == 1


def test_report_progress_partial_for_htmx(client_as, figures):
    claimed = services.report_claim(kind="quarterly", period=Period(PeriodKind.QUARTER, date(2026, 7, 1)),
                                    branch_id=None)
    response = client_as("admin").get(reverse("evaluation:report-detail", args=[claimed.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert b'hx-trigger="every 2s"' in response.content
