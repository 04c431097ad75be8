"""Admin pages for staff, branches and delegations; delegations change only through the revoke action."""

import pytest
from django.urls import reverse

from accounts.models import Delegation, Role
from tests.accounts.factories import DelegationFactory, UserFactory


@pytest.fixture
def admin_client(client, branch):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, branch=branch)
    client.force_login(superuser)
    client.user = superuser
    return client


@pytest.mark.parametrize("model", ["user", "branch", "delegation"])
def test_changelists_and_search_load(admin_client, make_user, model):
    """Each changelist loads, with a search, without errors."""
    # given
    DelegationFactory(delegator=make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang"))
    # when
    response = admin_client.get(reverse(f"admin:accounts_{model}_changelist"), {"q": "rm"})
    # then
    assert response.status_code == 200


def test_user_list_shows_role_labels(admin_client, make_user):
    """Staff are listed with their roles in words."""
    make_user(Role.COMPLAINT_DESK, username="desk_zhou")
    response = admin_client.get(reverse("admin:accounts_user_changelist"))
    assert "complaint desk" in response.content.decode()


def test_user_add_form_loads(admin_client):
    """A new staff member can be added with branch and roles."""
    content = admin_client.get(reverse("admin:accounts_user_add")).content.decode()
    assert 'name="branch"' in content and 'name="groups"' in content


def test_user_change_form_loads(admin_client, make_user):
    """The staff form shows branch, staff number and roles."""
    user = make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")
    content = admin_client.get(reverse("admin:accounts_user_change", args=[user.pk])).content.decode()
    assert 'name="branch"' in content and 'name="staff_number"' in content and "Roles" in content


def test_delegations_cannot_be_added_or_edited_in_admin(admin_client):
    """Delegations are created on the RM's page, through the service; the admin form is read-only."""
    # given
    delegation = DelegationFactory()
    # then
    assert admin_client.get(reverse("admin:accounts_delegation_add")).status_code == 403
    response = admin_client.post(
        reverse("admin:accounts_delegation_change", args=[delegation.pk]), {"note": "edited"}
    )
    assert response.status_code == 403
    delegation.refresh_from_db()
    assert delegation.note == ""


def test_revoke_action_calls_the_service(admin_client):
    """The admin action revokes open delegations and reports the ones it could not."""
    # given
    open_delegation = DelegationFactory()
    DelegationFactory(delegator=open_delegation.delegator, delegate=open_delegation.delegate,
                      starts_on=open_delegation.starts_on.replace(year=2020),
                      ends_on=open_delegation.starts_on.replace(year=2020))
    selected_ids = list(Delegation.objects.values_list("pk", flat=True))
    # when
    response = admin_client.post(
        reverse("admin:accounts_delegation_changelist"),
        {"action": "revoke_selected", "_selected_action": selected_ids},
        follow=True,
    )
    # then
    open_delegation.refresh_from_db()
    assert open_delegation.revoked_by == admin_client.user
    assert Delegation.objects.filter(revoked_at__isnull=True).count() == 1  # the expired one stays as it was
    content = response.content.decode()
    assert "1 delegation revoked." in content and "already ended" in content
