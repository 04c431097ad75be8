"""The at-risk list's export (lifecycle's page, evaluation's one export rule): what the page's filter
shows, scoped per role, PII masked unless revealed by someone allowed to, formulas neutralised, audited."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pytest
from django.urls import reverse

from accounts.models import Role
from core.models import AuditEvent
from lifecycle.models import RetentionTask
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory
from tests.evaluation.factories import scoring_run

pytestmark = pytest.mark.django_db
URL = reverse("evaluation:list-export", args=["at-risk"])
REASONS = [{"code": "inactivity", "params": {"days": 94}, "contribution": 0.8}]


@pytest.fixture
def at_risk(branch):
    """The RM ``rm_user``'s customers at 83 % (with an open task) and 20 %; a branch colleague's at 70 %;
    another branch's customer at 90 %. The policy's high-risk level is 50 %."""
    rm = UserFactory(username="rm_user", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    colleague = UserFactory(username="rm_colleague", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    other_branch = BranchFactory(code="B0909", name="Other Branch")
    high = CustomerFactory(branch=branch, relationship_manager=rm, name="王小明", phone="13912345678")
    low = CustomerFactory(branch=branch, relationship_manager=rm, name="李低风险")
    colleagues = CustomerFactory(branch=branch, relationship_manager=colleague, name="张同事")
    foreign = CustomerFactory(branch=other_branch, name="赵外行")
    run = scoring_run({high: 0.83, low: 0.2, colleagues: 0.7, foreign: 0.9}, reasons=REASONS)
    RetentionTask.objects.create(customer=high, assigned_to=rm, run=run, probability=0.83, reasons=REASONS,
                                 stage="decline", suggested_action="care_call", due_on=date(2026, 12, 18))
    return {"rm": rm, "high": high, "low": low, "colleagues": colleagues, "foreign": foreign}


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_rm_export_holds_their_high_risk_customers_with_reasons_task_and_masked_phone(client, at_risk):
    client.force_login(at_risk["rm"])
    rows = _csv(client.get(URL, {"format": "csv"}))
    header, body = rows[0], rows[1:]
    assert header[:5] == ["Customer number", "Name", "Branch", "Relationship manager", "Churn probability (%)"]
    assert len(body) == 1  # 李低风险 (20 %) is under the 50 % level; the others are not the RM's
    row = dict(zip(header, body[0], strict=True))
    assert row["Name"] == "王小明" and row["Customer number"] == at_risk["high"].external_id
    assert row["Churn probability (%)"] == "83.0"
    assert row["Why"] == "no transaction for 94 days"
    assert row["Retention task due"] == "2026-12-18" and row["Suggested action"].startswith("care call")
    assert row["Mobile phone"] == at_risk["high"].masked_phone != "13912345678"
    assert row["Scored as of"] == "2026-12-04"


def test_export_follows_the_pages_filter(client, at_risk):
    client.force_login(at_risk["rm"])
    names = [row[1] for row in _csv(client.get(URL, {"format": "csv", "min_probability": "10"}))[1:]]
    assert names == ["王小明", "李低风险"]  # highest risk first, as on the page
    names = [row[1] for row in _csv(client.get(URL, {"format": "csv", "min_probability": "90"}))[1:]]
    assert names == []


@pytest.mark.parametrize(("role", "status", "names"), [
    ("branch_manager", 200, {"王小明", "张同事"}),
    ("admin", 200, {"王小明", "张同事", "赵外行"}),
    ("auditor", 200, {"王小明", "张同事", "赵外行"}),
    ("complaint_desk", 403, None),
])
def test_scope_per_role(client_as, at_risk, role, status, names):
    response = client_as(role).get(URL, {"format": "csv"})
    assert response.status_code == status
    if names is None:
        assert not AuditEvent.objects.filter(action="evaluation.list_export").exists()  # nothing exported
        return
    assert {row[1] for row in _csv(response)[1:]} == names


def test_export_without_a_role_is_refused(client, make_user):
    client.force_login(make_user(None, username="nobody"))
    assert client.get(URL, {"format": "csv"}).status_code == 403


def test_phone_is_revealed_only_to_someone_with_reveal_rights(client, client_as, at_risk):
    client.force_login(at_risk["rm"])
    assert "13912345678" in client.get(URL, {"format": "csv", "reveal": "1"}).content.decode("utf-8-sig")
    auditor = client_as("auditor", username="auditor_reveal")
    assert "13912345678" not in auditor.get(URL, {"format": "csv", "reveal": "1"}).content.decode("utf-8-sig")


def test_every_export_is_audited_with_list_filters_rows_and_reveal(client, at_risk):
    client.force_login(at_risk["rm"])
    client.get(URL, {"format": "xlsx", "min_probability": "10", "reveal": "1"})
    event = AuditEvent.objects.get(action="evaluation.list_export")
    assert event.actor_id == at_risk["rm"].pk
    assert event.detail == {"list": "at-risk", "format": "xlsx", "rows": 2, "revealed": True,
                            "filters": {"min_probability": "10"}}


def test_formulas_are_neutralised_and_figures_stay_numbers(client, at_risk):
    at_risk["high"].name = "=HYPERLINK(\"http://evil\")"
    at_risk["high"].save(update_fields=["name"])
    client.force_login(at_risk["rm"])
    rows = _csv(client.get(URL, {"format": "csv"}))
    assert rows[1][1] == "'=HYPERLINK(\"http://evil\")"
    sheet = openpyxl.load_workbook(io.BytesIO(client.get(URL, {"format": "xlsx"}).content)).active
    row = next(sheet.iter_rows(min_row=2, max_row=2))
    assert row[1].value == "'=HYPERLINK(\"http://evil\")" and row[1].data_type == "s"
    assert row[4].value == 83.0 and row[4].data_type == "n"


def test_the_at_risk_page_links_its_export_with_its_filter(client, at_risk):
    client.force_login(at_risk["rm"])
    html = client.get(reverse("lifecycle:at-risk"), {"min_probability": "30"}).content.decode()
    assert f"{URL}?min_probability=30&amp;format=xlsx" in html
