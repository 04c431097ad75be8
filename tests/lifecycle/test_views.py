"""Pages: who sees what, and what they see."""

from __future__ import annotations

import pytest
from django.urls import reverse

from lifecycle.models import RetentionStatus


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
def test_overview_for_managers_and_head_office(client_as, scored, role, status):
    response = client_as(role).get(reverse("lifecycle:overview"))
    assert response.status_code == status
    if status == 200:
        assert "Customer lifecycle" in response.content.decode()


@pytest.mark.parametrize(("role", "status"), [("rm", 200), ("branch_manager", 200), ("complaint_desk", 403),
                                              ("auditor", 200), ("admin", 200)])
def test_at_risk_list_roles(client_as, scored, role, status):
    assert client_as(role).get(reverse("lifecycle:at-risk")).status_code == status


def test_rm_sees_own_customers_at_risk_with_reasons_not_others(client, scored):
    client.force_login(scored["rm"])
    page = client.get(reverse("lifecycle:at-risk")).content.decode()
    assert "王小明" in page and "no transaction for 94 days" in page
    assert "赵外行" not in page


def test_branch_manager_sees_the_branch_not_other_branches(client_as, scored):
    page = client_as("branch_manager").get(reverse("lifecycle:at-risk")).content.decode()
    assert "王小明" in page and "赵外行" not in page


def test_rm_records_the_outcome_of_their_task(client, scored):
    client.force_login(scored["rm"])
    response = client.post(reverse("lifecycle:task-record", args=[scored["task"].pk]),
                           {"action_taken": "called, offered a review", "outcome": "retained"})
    assert response.status_code == 302
    scored["task"].refresh_from_db()
    assert scored["task"].status == RetentionStatus.DONE and scored["task"].outcome == "retained"


def test_another_branchs_task_is_a_404_and_unchanged(client, scored):
    client.force_login(scored["rm"])
    response = client.post(reverse("lifecycle:task-record", args=[scored["foreign_task"].pk]),
                           {"action_taken": "x", "outcome": "lost"})
    assert response.status_code == 404
    scored["foreign_task"].refresh_from_db()
    assert scored["foreign_task"].status == RetentionStatus.OPEN


def test_auditor_cannot_record_an_outcome(client_as, scored):
    response = client_as("auditor").post(reverse("lifecycle:task-record", args=[scored["task"].pk]),
                                         {"action_taken": "x", "outcome": "lost"})
    assert response.status_code == 403
    scored["task"].refresh_from_db()
    assert scored["task"].status == RetentionStatus.OPEN


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("branch_manager", 403), ("complaint_desk", 403),
                                              ("auditor", 403), ("admin", 200)])
def test_model_page_is_for_admins(client_as, scored, role, status):
    response = client_as(role).get(reverse("lifecycle:models"))
    assert response.status_code == status
    if status == 200:
        page = response.content.decode()
        assert "Model v1" in page and "0.91" in page and "Scoring runs" in page


def test_model_page_says_when_the_models_were_fitted_on_a_sample(client_as, scored):
    model = scored["model"]
    page = client_as("admin").get(reverse("lifecycle:models")).content.decode()
    assert "random sample" not in page  # trained on its whole population
    model.metrics["train_population"] = 5000
    model.save(update_fields=["metrics"])
    page = client_as("admin").get(reverse("lifecycle:models")).content.decode()
    assert f"random sample of {model.train_customers} of the 5000 training customers" in page


def test_model_page_progress_partial(client_as, scored):
    response = client_as("admin").get(reverse("lifecycle:run-progress"))
    assert response.status_code == 200 and "2/2" in response.content.decode()


def test_only_an_admin_activates_a_model(client_as, scored):
    response = client_as("branch_manager").post(reverse("lifecycle:model-activate", args=[scored["model"].pk]),
                                                {"note": "x"})
    assert response.status_code == 403


def test_customer_360_shows_stage_probability_and_reasons(client, scored):
    client.force_login(scored["rm"])
    page = client.get(reverse("customers:customer-detail", args=[scored["own"].pk])).content.decode()
    assert "Lifecycle and churn risk" in page and "83 %" in page and "no transaction for 94 days" in page


def test_complaint_desk_does_not_get_the_lifecycle_panel(client_as, scored, branch):
    page = client_as("complaint_desk").get(reverse("customers:customer-detail", args=[scored["own"].pk]))
    assert page.status_code == 200 and "Lifecycle and churn risk" not in page.content.decode()


def test_nav_shows_at_risk_for_an_rm(client, scored):
    client.force_login(scored["rm"])
    page = client.get(reverse("lifecycle:at-risk")).content.decode()
    assert f'href="{reverse("lifecycle:at-risk")}"' in page
    assert f'href="{reverse("lifecycle:overview")}"' not in page


@pytest.mark.parametrize(("role", "expected"), [("admin", 2), ("branch_manager", 1)])
def test_home_tile_counts_the_high_risk_customers_in_view(client_as, scored, role, expected):
    """Head office reads the run's own count (no count over the whole bank); a branch its own customers."""
    response = client_as(role).get(reverse("home"))
    html = response.content.decode()
    assert f'<p class="display-6 mb-1">{expected}</p>' in html
