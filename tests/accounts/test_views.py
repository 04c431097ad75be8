"""The delegation page: role matrix, creating and revoking, and denied requests changing nothing."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Delegation, DelegationReason, Role
from tests.accounts.factories import BranchFactory, DelegationFactory

LIST_URL = reverse("accounts:delegation-list")


def revoke_url(delegation: Delegation) -> str:
    return reverse("accounts:delegation-revoke", args=[delegation.pk])


@pytest.fixture
def backup(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_li", first_name="Li", last_name="Na")


def create_data(delegate, **overrides) -> dict:
    today = timezone.localdate()
    data = {
        "delegate": delegate.pk,
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=4)).isoformat(),
        "reason": DelegationReason.TRAINING,
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("role", "status"),
    [("rm", 200), ("branch_manager", 200), ("admin", 200), ("complaint_desk", 403), ("auditor", 403)],
)
def test_delegation_page_role_matrix(client_as, role, status):
    """RMs, branch managers and admins may open the page; other roles get 403."""
    response = client_as(role).get(LIST_URL)
    assert response.status_code == status


def test_anonymous_is_sent_to_login(client):
    """An anonymous visitor is redirected to the login page with next."""
    response = client.get(LIST_URL)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={LIST_URL}"


def test_rm_sees_empty_states_and_form(client_as, backup):
    """A new RM sees both empty states and a form offering colleagues of the branch."""
    # when
    response = client_as("rm").get(LIST_URL)
    # then
    content = response.content.decode()
    assert "You have not named a backup yet" in content
    assert "No colleague has named you as their backup" in content
    assert 'name="delegate"' in content and "Li Na" in content


def test_rm_sees_given_and_received_with_status(client_as, backup, make_user):
    """Given and received delegations are listed with status badges and a revoke button on own ones."""
    # given
    client = client_as("rm")
    rm = client.user
    today = timezone.localdate()
    DelegationFactory(delegator=rm, delegate=backup, starts_on=today, ends_on=today + timedelta(days=2))
    DelegationFactory(delegator=rm, delegate=backup, starts_on=today + timedelta(days=10),
                      ends_on=today + timedelta(days=12))
    DelegationFactory(delegator=rm, delegate=backup, starts_on=today - timedelta(days=10),
                      ends_on=today - timedelta(days=8))
    colleague = make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao")
    received = DelegationFactory(delegator=colleague, delegate=rm, starts_on=today, ends_on=today,
                                 revoked_at=timezone.now(), revoked_by=colleague)
    # when
    response = client.get(LIST_URL)
    # then
    content = response.content.decode()
    for status in ("active", "scheduled", "expired", "revoked"):
        assert f'data-status="{status}"' in content
    assert content.count('action="/accounts/delegations/') == 2  # active and scheduled, not expired
    assert revoke_url(received) not in content


def test_branch_manager_sees_branch_read_only(client_as, backup, make_user):
    """A branch manager sees the branch's delegations without form or revoke buttons."""
    # given
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")
    own_branch = DelegationFactory(delegator=rm, delegate=backup)
    elsewhere = DelegationFactory(delegator__branch=BranchFactory(code="B0999"), delegator__username="far")
    # when
    response = client_as("branch_manager").get(LIST_URL)
    # then
    content = response.content.decode()
    assert rm.username in content and "far" not in content
    assert 'name="delegate"' not in content
    assert revoke_url(own_branch) not in content and revoke_url(elsewhere) not in content


def test_rm_creates_delegation(client_as, backup):
    """A valid form creates the delegation and redirects back with a confirmation."""
    # given
    client = client_as("rm")
    # when
    response = client.post(LIST_URL, create_data(backup), follow=True)
    # then
    delegation = Delegation.objects.get()
    rm = client.user
    assert (delegation.delegator, delegation.delegate, delegation.created_by) == (rm, backup, rm)
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert "will look after your customers" in response.content.decode()


def test_invalid_form_shows_field_errors_and_creates_nothing(client_as, backup):
    """Missing or inconsistent dates are shown next to their fields."""
    # given
    client = client_as("rm")
    today = timezone.localdate()
    # when
    response = client.post(LIST_URL, create_data(backup, starts_on="", ends_on=(today - timedelta(days=1))))
    # then
    assert response.status_code == 400
    content = response.content.decode()
    assert 'id="id_starts_on_error"' in content and "is-invalid" in content
    assert not Delegation.objects.exists()


def test_rule_break_is_shown_as_message_and_creates_nothing(client_as, backup):
    """A refused rule (a start in the past) comes back as a message with the form kept."""
    # given
    client = client_as("rm")
    yesterday = timezone.localdate() - timedelta(days=1)
    # when
    response = client.post(LIST_URL, create_data(backup, starts_on=yesterday.isoformat()))
    # then
    assert response.status_code == 400
    content = response.content.decode()
    assert "cannot start in the past" in content and 'class="alert alert-danger' in content
    assert f'value="{yesterday.isoformat()}"' in content
    assert not Delegation.objects.exists()


def test_backup_from_another_branch_is_not_a_choice(client_as, make_user):
    """The form refuses a colleague from another branch (not among the choices)."""
    # given
    client = client_as("rm")
    far = make_user(Role.RELATIONSHIP_MANAGER, username="rm_far", branch=BranchFactory(code="B0999"))
    # when
    response = client.post(LIST_URL, create_data(far))
    # then
    assert response.status_code == 400
    assert not Delegation.objects.exists()


@pytest.mark.parametrize("role", ["branch_manager", "admin", "complaint_desk", "auditor"])
def test_only_rms_may_create(client_as, backup, role):
    """Any other role posting the form gets 403 and nothing is created."""
    response = client_as(role).post(LIST_URL, create_data(backup))
    assert response.status_code == 403
    assert not Delegation.objects.exists()


def test_anonymous_post_creates_nothing(client, backup):
    """An anonymous POST is redirected to login and creates nothing."""
    response = client.post(LIST_URL, create_data(backup))
    assert response.status_code == 302
    assert not Delegation.objects.exists()


def test_rm_revokes_own_delegation(client_as, backup):
    """The delegator's revoke button ends the delegation."""
    # given
    client = client_as("rm")
    delegation = DelegationFactory(delegator=client.user, delegate=backup)
    # when
    response = client.post(revoke_url(delegation), follow=True)
    # then
    delegation.refresh_from_db()
    assert delegation.revoked_by == client.user and delegation.revoked_at is not None
    assert response.redirect_chain == [(LIST_URL, 302)]
    assert "The delegation was revoked" in response.content.decode()


def test_revoking_twice_shows_message(client_as, backup):
    """A second revoke is refused with a message, not an error page."""
    # given
    client = client_as("rm")
    delegation = DelegationFactory(delegator=client.user, delegate=backup, revoked_at=timezone.now(),
                                   revoked_by=client.user)
    # when
    response = client.post(revoke_url(delegation), follow=True)
    # then
    assert "already revoked" in response.content.decode()


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("delegate", 403),
        ("branch_manager", 403),
        ("other_rm", 404),
        ("complaint_desk", 403),
        ("auditor", 403),
    ],
)
def test_revoke_denied_changes_nothing(client, make_user, user_for_role, backup, who, status):
    """Only the delegator may revoke on this page; a denied request leaves the delegation as it was."""
    # given
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")
    delegation = DelegationFactory(delegator=rm, delegate=backup)
    actor = {
        "delegate": backup,
        "other_rm": make_user(Role.RELATIONSHIP_MANAGER, username="rm_zhao"),
    }.get(who) or user_for_role(who)
    client.force_login(actor)
    # when
    response = client.post(revoke_url(delegation))
    # then
    assert response.status_code == status
    delegation.refresh_from_db()
    assert delegation.revoked_at is None and delegation.revoked_by is None


def test_revoke_needs_post(client_as, backup):
    """GET on the revoke URL is refused and changes nothing."""
    client = client_as("rm")
    delegation = DelegationFactory(delegator=client.user, delegate=backup)
    assert client.get(revoke_url(delegation)).status_code == 405
    delegation.refresh_from_db()
    assert delegation.revoked_at is None


def test_user_menu_shows_role_labels(client_as):
    """The user menu on every page names roles in words, not group names."""
    content = client_as("branch_manager").get(reverse("home"), follow=True).content.decode()
    assert "branch manager" in content and "branch_manager<" not in content
