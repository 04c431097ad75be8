"""Evaluation API: KPI definitions and snapshots, reports (list, retrieve, download); scopes and roles."""

from __future__ import annotations

from datetime import date

import pytest

from accounts import services as account_services
from accounts.models import ApiScope, Role
from core.models import AuditEvent
from customers.models import CustomerStatus
from evaluation import services
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.evaluation.factories import NOVEMBER, compute

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_client_with(client):
    def make(*scopes, branch=None):
        _api_key, raw_key = account_services.api_key_create(
            name=f"dw-{'-'.join(scopes) or 'none'}-{branch.pk if branch else 'all'}", scopes=list(scopes),
            branch=branch, by=None)
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {raw_key}"
        return client
    return make


@pytest.fixture
def two_branches(branch):
    other = BranchFactory(code="B0202", name="Haidian Branch")
    rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_api")
    CustomerFactory(branch=branch, relationship_manager=rm)
    CustomerFactory(branch=other, status=CustomerStatus.CLOSED, closed_on=date(2026, 11, 2))
    CustomerFactory(branch=other)
    compute(codes=["retention_rate", "churn_rate"])
    return branch, other, rm


@pytest.fixture
def reports(two_branches):
    branch, other, _rm = two_branches
    made = []
    for branch_id in (None, branch.pk, other.pk):
        claimed = services.report_claim(kind="monthly", period=NOVEMBER, branch_id=branch_id)
        made.append(services.report_generate(report_id=claimed.pk))
    return made


def test_definitions_need_the_kpis_scope(api_client_with):
    assert api_client_with(ApiScope.REPORTS_READ).get("/api/v1/kpis/").status_code == 403
    response = api_client_with(ApiScope.KPIS_READ).get("/api/v1/kpis/", {"page_size": 200})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert "retention_rate" in [row["code"] for row in rows] and response.json()["next"] is None
    retention = next(row for row in rows if row["code"] == "retention_rate")
    assert retention["targets"][0]["comparison"] == "gte"


def test_bank_wide_key_reads_every_snapshot(api_client_with, two_branches):
    response = api_client_with(ApiScope.KPIS_READ).get("/api/v1/kpi-snapshots/", {"kpi": "retention_rate",
                                                                                   "scope": "bank"})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 1 and rows[0]["value"] == "66.6667" and rows[0]["period_start"] == "2026-11-01"


def test_branch_key_reads_only_its_branch_and_its_rms(api_client_with, two_branches):
    branch, other, rm = two_branches
    client = api_client_with(ApiScope.KPIS_READ, branch=branch)
    rows = client.get("/api/v1/kpi-snapshots/", {"kpi": "retention_rate"}).json()["results"]
    assert {(row["scope"], row["branch"], row["relationship_manager_id"]) for row in rows} == {
        ("branch", branch.code, None), ("rm", None, rm.pk)}
    foreign = services.KpiSnapshot.objects.get(kpi__code="retention_rate", scope="branch", branch=other)
    assert client.get(f"/api/v1/kpi-snapshots/{foreign.pk}/").status_code == 404


def test_snapshot_filters_are_validated(api_client_with, two_branches):
    client = api_client_with(ApiScope.KPIS_READ)
    assert client.get("/api/v1/kpi-snapshots/", {"period_kind": "week"}).status_code == 400
    assert client.get("/api/v1/kpi-snapshots/", {"period_start": "2026-13-01"}).status_code == 400


def test_reports_list_retrieve_download_with_scope(api_client_with, reports):
    _bank_report, branch_report, other_report = reports
    client = api_client_with(ApiScope.REPORTS_READ, branch=branch_report.branch)
    listed = {row["id"] for row in client.get("/api/v1/reports/").json()["results"]}
    assert listed == {branch_report.pk}
    detail = client.get(f"/api/v1/reports/{branch_report.pk}/").json()
    assert detail["period"] == "2026-11" and detail["content"]["kpis"]
    assert client.get(f"/api/v1/reports/{other_report.pk}/").status_code == 404
    download = client.get(f"/api/v1/reports/{branch_report.pk}/download/pdf/")
    assert download.status_code == 200 and download.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="evaluation.report_download", actor_label__startswith="api-key:").exists()
    assert client.get(f"/api/v1/reports/{branch_report.pk}/download/doc/").status_code == 404


def test_reports_need_the_reports_scope(api_client_with, reports):
    assert api_client_with(ApiScope.KPIS_READ).get("/api/v1/reports/").status_code == 403


@pytest.mark.parametrize(("role", "kpis", "reports_status"), [
    ("rm", 200, 403), ("branch_manager", 200, 200), ("complaint_desk", 200, 403), ("auditor", 200, 200),
    ("admin", 200, 200),
])
def test_staff_sessions_per_role(client_as, reports, role, kpis, reports_status):
    client = client_as(role)
    assert client.get("/api/v1/kpis/").status_code == kpis
    assert client.get("/api/v1/kpi-snapshots/").status_code == kpis
    assert client.get("/api/v1/reports/").status_code == reports_status
    assert client.get(f"/api/v1/reports/{reports[0].pk}/").status_code == reports_status


def test_rm_session_sees_only_bank_and_own_snapshots(client_as, two_branches):
    _branch, _other, _rm = two_branches
    client = client_as("rm")
    rows = client.get("/api/v1/kpi-snapshots/", {"kpi": "retention_rate"}).json()["results"]
    assert {row["scope"] for row in rows} == {"bank"}


def test_anonymous_is_refused(client):
    assert client.get("/api/v1/kpi-snapshots/").status_code in (401, 403)


@pytest.mark.parametrize("path", ["/api/v1/kpi-snapshots/null,null/", "/api/v1/reports/abc/",
                                  "/api/v1/reports/99999999999999999999/", "/api/v1/reports/1/download/pdf/",
                                  "/api/v1/reports/x/download/xlsx/"])
def test_a_malformed_or_unknown_id_is_the_apis_json_404(api_client_with, path):
    response = api_client_with(ApiScope.KPIS_READ, ApiScope.REPORTS_READ).get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_blank_snapshot_filter_is_a_400(api_client_with):
    response = api_client_with(ApiScope.KPIS_READ).get("/api/v1/kpi-snapshots/", {"scope": ""})
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"scope"}
