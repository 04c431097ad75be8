"""The branch manager's list of customers without an RM (an import without RMs fills it), and the bulk
assignment: only active RMs of the customer's branch, only customers of the manager's scope."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import Role
from core.errors import ApplicationError
from core.models import AuditEvent
from customers import services
from tests.accounts.factories import BranchFactory, UserFactory
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db
URL = reverse("customers:unassigned")


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("complaint_desk", 403), ("auditor", 403),
                                              ("branch_manager", 200), ("admin", 200)])
def test_who_may_open_the_unassigned_list(client_as, role, status):
    assert client_as(role).get(URL).status_code == status


def test_branch_manager_sees_own_branch_unassigned_and_assigns_in_bulk(client_as, branch):
    manager = client_as("branch_manager")
    rm = UserFactory(username="rm_home", staff_number="RM1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    waiting = CustomerFactory.create_batch(3, branch=branch, relationship_manager=None)
    assigned_already = CustomerFactory(branch=branch, relationship_manager=rm)
    other_branch = CustomerFactory(branch=BranchFactory(code="B0909"), relationship_manager=None)

    page = manager.get(URL)

    content = page.content.decode()
    assert all(customer.external_id in content for customer in waiting)
    assert assigned_already.external_id not in content and other_branch.external_id not in content
    assert "RM1" in content

    response = manager.post(URL, {"relationship_manager": rm.pk, "customers": [c.pk for c in waiting[:2]]})

    assert response.status_code == 302
    assert {c.pk for c in rm.managed_customers.all()} == {waiting[0].pk, waiting[1].pk, assigned_already.pk}
    event = AuditEvent.objects.get(action=services.AUDIT_RM_ASSIGN)
    assert event.detail == {"customer_ids": sorted([waiting[0].pk, waiting[1].pk]), "relationship_manager_id": rm.pk}


def test_an_rm_of_another_branch_or_inactive_is_refused(user_for_role, branch):
    manager = user_for_role("branch_manager")
    customer = CustomerFactory(branch=branch, relationship_manager=None)
    far = UserFactory(username="rm_far", branch=BranchFactory(code="B0808"), roles=[Role.RELATIONSHIP_MANAGER])
    gone = UserFactory(username="rm_gone", branch=branch, roles=[Role.RELATIONSHIP_MANAGER], is_active=False)
    desk = UserFactory(username="desk2", branch=branch, roles=[Role.COMPLAINT_DESK])

    for candidate in (far, gone, desk):
        with pytest.raises(ApplicationError):
            services.customer_relationship_manager_assign_bulk(by=manager, customer_ids=[customer.pk],
                                                               relationship_manager=candidate)
    customer.refresh_from_db()
    assert customer.relationship_manager_id is None
