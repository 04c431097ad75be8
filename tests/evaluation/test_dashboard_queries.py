"""The home dashboards read a fixed number of queries, whatever the book's size (no N+1, no per-row reads).

Each role's page is requested on a small book and on one several times larger (more branches,
RMs, customers, next steps, open complaints, churn warnings, snapshots); the count must not grow,
and stays under a ceiling pinned here (measured when written; raise it only with a reason).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory, InteractionFactory
from tests.evaluation.factories import churn_warning, compute, local

pytestmark = pytest.mark.django_db

# Ceilings per role (queries of one GET /, session and sign-in checks included).
CEILINGS = {"rm": 20, "branch_manager": 13, "admin": 13, "complaint_desk": 12}


def _book(*, home_branch, rm, size: int) -> None:
    """``size`` other branches with an RM each, and in the home branch ``size`` customers of ``rm``
    with a next step due, an open complaint and a churn warning."""
    today = timezone.localdate()
    for n in range(size):
        other_branch = BranchFactory(code=f"B7{size:02d}{n:02d}", name=f"Branch {size}-{n}")
        other_rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=home_branch, username=f"rm_{size}_{n}")
        CustomerFactory(branch=other_branch)
        CustomerFactory(branch=home_branch, relationship_manager=other_rm)
        mine = CustomerFactory(branch=home_branch, relationship_manager=rm)
        InteractionFactory(customer=mine, occurred_at=local(2026, 11, 10, 10), next_step=f"call back {n}",
                           next_step_due_on=today + timedelta(days=2))
        make_complaint(customer=mine, received_at=timezone.now() - timedelta(hours=2))
        churn_warning(mine, created_at=timezone.now() - timedelta(hours=1))
    compute()


def _queries(client):
    with CaptureQueriesContext(connection) as context:
        response = client.get(reverse("home"), {"period": "2026-11", "rank": "retention_rate"})
    assert response.status_code == 200
    return len(context.captured_queries), response


@pytest.mark.parametrize("role", ["rm", "branch_manager", "admin", "complaint_desk"])
def test_dashboard_queries_do_not_grow_with_the_book(client, branch, role, django_assert_max_num_queries):
    rm = UserFactory(roles=[Role.RELATIONSHIP_MANAGER], branch=branch, username="rm_home")
    viewer = rm if role == "rm" else UserFactory(roles=[{
        "branch_manager": Role.BRANCH_MANAGER, "admin": Role.ADMIN, "complaint_desk": Role.COMPLAINT_DESK}[role]],
        branch=branch, username=f"{role}_viewer")
    client.force_login(viewer)
    # given a small book
    _book(home_branch=branch, rm=rm, size=1)
    small, _response = _queries(client)
    # when the book grows six-fold
    _book(home_branch=branch, rm=rm, size=6)
    with django_assert_max_num_queries(CEILINGS[role]):
        large, response = _queries(client)
    # then the page reads no more queries, and it did render the larger book
    assert large <= small, (small, large)
    if role == "rm":
        assert response.context["work"]["next_steps_count"] == 7
        assert response.context["work"]["complaint_customers_count"] == 7
    if role == "branch_manager":
        assert len(response.context["ranking"]) == 8  # every RM of the branch ranked
    if role == "admin":
        assert "Branch 6-5" in response.content.decode()  # every branch in the head-office table
