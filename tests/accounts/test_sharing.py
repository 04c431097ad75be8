"""Record sharing (issue 10, point 8): who may share, the rules, the guardian row, the audit, the scope.

A share lets one named colleague see exactly one customer or complaint until its last day; the
scope (accounts.scope) reads the record's guardian direct-FK table, so an expired or revoked share
stops counting at once.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Q
from django.urls import reverse
from guardian.utils import get_user_obj_perms_model

from accounts import scope, selectors
from accounts import services as account_services
from accounts.models import ApiClient, RecordShare, Role
from accounts.tasks import record_share_permissions_expired_purge_task
from complaints import selectors as complaint_selectors
from complaints import services as complaint_services
from complaints.models import ComplaintUserObjectPermission
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent
from customers import selectors as customer_selectors
from customers import services as customer_services
from customers.models import Customer, CustomerUserObjectPermission
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory

TODAY = date(2030, 3, 10)


@pytest.fixture(autouse=True)
def frozen_today(time_machine):
    time_machine.move_to(datetime(2030, 3, 10, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)


@pytest.fixture
def owner(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_owner")


@pytest.fixture
def head_office(db):
    return BranchFactory(code="HO001", name="Head Office")


@pytest.fixture
def specialist(head_office):
    """A colleague at another branch (a product specialist working as an RM at head office)."""
    return UserFactory(username="specialist", branch=head_office, roles=[Role.RELATIONSHIP_MANAGER])


@pytest.fixture
def customer(branch, owner):
    return CustomerFactory(branch=branch, relationship_manager=owner)


@pytest.fixture
def other_customer(branch, owner):
    return CustomerFactory(branch=branch, relationship_manager=owner)


def share(customer, colleague, by, **overrides):
    arguments = {"reason": "Needs the wealth product review", "ends_on": TODAY + timedelta(days=6)}
    arguments.update(overrides)
    return customer_services.customer_share(customer=customer, shared_with=colleague, by=by, **arguments)


def visible_ids(user, *, shared=True):
    return set(customer_selectors.customer_list_visible_to(user=user, shared=shared).values_list("pk", flat=True))


# --- Who may share ------------------------------------------------------------------------------


@pytest.mark.parametrize("sharer", ["owner", "branch_manager", "admin"])
def test_owner_their_branch_manager_and_admin_may_share(sharer, make_user, owner, customer, specialist):
    """The customer's RM, a branch manager of its branch and an administrator may share it."""
    by = {"owner": owner, "branch_manager": make_user(Role.BRANCH_MANAGER, username="bm"),
          "admin": make_user(Role.ADMIN, username="admin")}[sharer]
    created = share(customer, specialist, by)
    assert created.shared_by == by and created.shared_with == specialist
    assert created.record == customer


@pytest.mark.parametrize("sharer", ["other_rm", "other_branch_manager", "complaint_desk", "auditor"])
def test_others_may_not_share_and_nothing_is_written(sharer, make_user, customer, specialist, head_office):
    """Another RM, another branch's manager, the complaint desk and the auditor are refused."""
    by = {
        "other_rm": make_user(Role.RELATIONSHIP_MANAGER, username="rm_other"),
        "other_branch_manager": make_user(Role.BRANCH_MANAGER, username="bm_ho", branch=head_office),
        "complaint_desk": make_user(Role.COMPLAINT_DESK, username="desk"),
        "auditor": make_user(Role.COMPLIANCE_AUDITOR, username="auditor"),
    }[sharer]
    with pytest.raises(ApplicationError) as error:
        share(customer, specialist, by)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    assert not RecordShare.objects.exists()
    assert not CustomerUserObjectPermission.objects.exists()
    assert not AuditEvent.objects.filter(action=account_services.AUDIT_RECORD_SHARE_CREATE).exists()


# --- Validation ---------------------------------------------------------------------------------


def test_cannot_share_with_oneself(owner, customer):
    with pytest.raises(ApplicationError) as error:
        share(customer, owner, owner)
    assert "shared_with" in error.value.field_errors
    assert not RecordShare.objects.exists()


def test_cannot_share_with_an_inactive_colleague(owner, customer, specialist):
    specialist.is_active = False
    specialist.save()
    with pytest.raises(ApplicationError) as error:
        share(customer, specialist, owner)
    assert "shared_with" in error.value.field_errors
    assert not RecordShare.objects.exists()


def test_cannot_share_with_a_colleague_whose_role_cannot_open_customers(owner, customer, make_user):
    """A user without a customer-facing role could never open the page: refused, not a useless grant."""
    no_role = make_user(username="no_role")
    with pytest.raises(ApplicationError) as error:
        share(customer, no_role, owner)
    assert "shared_with" in error.value.field_errors


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_reason_is_required(owner, customer, specialist, reason):
    with pytest.raises(ApplicationError) as error:
        share(customer, specialist, owner, reason=reason)
    assert "reason" in error.value.field_errors
    assert not RecordShare.objects.exists()


def test_the_last_day_cannot_be_in_the_past(owner, customer, specialist):
    with pytest.raises(ApplicationError) as error:
        share(customer, specialist, owner, ends_on=TODAY - timedelta(days=1))
    assert "ends_on" in error.value.field_errors


def test_a_share_lasts_at_most_max_days(owner, customer, specialist):
    """Today through today + MAX_DAYS - 1 is MAX_DAYS days: allowed; one day more is refused."""
    share(customer, specialist, owner, ends_on=TODAY + timedelta(days=RecordShare.MAX_DAYS - 1))
    with pytest.raises(ApplicationError) as error:
        share(customer, specialist, owner, ends_on=TODAY + timedelta(days=RecordShare.MAX_DAYS))
    assert "ends_on" in error.value.field_errors


# --- The guardian row and the audit -------------------------------------------------------------


def test_share_writes_the_guardian_direct_fk_row_and_an_audit_event(owner, customer, specialist):
    """guardian resolves the customer's direct-FK table, and its checker agrees with the scope."""
    created = share(customer, specialist, owner)

    assert get_user_obj_perms_model(customer) is CustomerUserObjectPermission
    row = CustomerUserObjectPermission.objects.get()
    assert (row.user, row.content_object, row.share, row.ends_on) == (specialist, customer, created, created.ends_on)
    assert row.permission.codename == "view_customer"
    assert specialist.has_perm("customers.view_customer", customer)

    event = AuditEvent.objects.get(action=account_services.AUDIT_RECORD_SHARE_CREATE)
    assert event.actor_id == owner.pk
    assert event.target_id == str(created.pk)
    assert event.detail["record_type"] == "customers.customer"
    assert event.detail["record_id"] == customer.pk
    assert event.detail["shared_with_id"] == specialist.pk
    assert event.detail["ends_on"] == created.ends_on.isoformat()
    assert "reason" not in event.detail  # free text stays on the share row


def test_sharing_again_replaces_the_share_in_force(owner, customer, specialist):
    first = share(customer, specialist, owner)
    second = share(customer, specialist, owner, ends_on=TODAY + timedelta(days=20))
    first.refresh_from_db()
    assert first.revoked_at is not None and first.revoked_by == owner
    assert CustomerUserObjectPermission.objects.get().share == second
    event = AuditEvent.objects.filter(action=account_services.AUDIT_RECORD_SHARE_CREATE).latest("id")
    assert event.detail["replaces_share_id"] == first.pk


def test_revoke_deletes_the_guardian_row_keeps_the_history_and_audits(owner, customer, specialist):
    created = share(customer, specialist, owner)
    customer_services.customer_share_revoke(customer=customer, share=created, by=owner)

    created.refresh_from_db()
    assert created.revoked_at is not None and created.revoked_by == owner
    assert not CustomerUserObjectPermission.objects.exists()
    assert not specialist.has_perm("customers.view_customer", customer)
    event = AuditEvent.objects.get(action=account_services.AUDIT_RECORD_SHARE_REVOKE)
    assert event.actor_id == owner.pk and event.target_id == str(created.pk)
    with pytest.raises(ApplicationError) as error:
        customer_services.customer_share_revoke(customer=customer, share=created, by=owner)
    assert error.value.code == ErrorCode.INVALID_TRANSITION


def test_the_colleague_cannot_revoke_and_nothing_changes(owner, customer, specialist):
    created = share(customer, specialist, owner)
    with pytest.raises(ApplicationError) as error:
        customer_services.customer_share_revoke(customer=customer, share=created, by=specialist)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    created.refresh_from_db()
    assert created.revoked_at is None
    assert CustomerUserObjectPermission.objects.filter(share=created).exists()


def test_the_branch_manager_may_revoke_the_rms_share(owner, customer, specialist, make_user):
    created = share(customer, specialist, owner)
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    customer_services.customer_share_revoke(customer=customer, share=created, by=manager)
    assert not visible_ids(specialist)


# --- Scope --------------------------------------------------------------------------------------


def test_the_colleague_sees_exactly_the_shared_customer(owner, customer, other_customer, specialist):
    """The shared customer joins the colleague's own; the owner's other customers do not."""
    own = CustomerFactory(branch=specialist.branch, relationship_manager=specialist)
    assert visible_ids(specialist) == {own.pk}
    share(customer, specialist, owner)
    assert visible_ids(specialist) == {own.pk, customer.pk}
    assert other_customer.pk not in visible_ids(specialist)
    # Other chapters (and edits, reveals) keep to the customers the colleague serves.
    assert visible_ids(specialist, shared=False) == {own.pk}


def test_the_paged_list_counts_what_it_lists(owner, customer, other_customer, specialist, branch):
    """The list page counts own + shared-not-own without the OR: the same count as the list itself, with a
    shared customer that has since become the colleague's own, one the search filters out, and one in force."""
    for _ in range(3):
        CustomerFactory(branch=specialist.branch, relationship_manager=specialist, name="陈自有")
    share(customer, specialist, owner)
    share(other_customer, specialist, owner)
    reassigned = CustomerFactory(branch=branch, relationship_manager=owner, name="陈转来")
    share(reassigned, specialist, owner)
    Customer.objects.filter(pk=reassigned.pk).update(relationship_manager=specialist)

    def build(*, shared: bool, query: str = ""):
        return customer_selectors.customer_search_visible_to(user=specialist, query=query, shared=shared)

    pages = customer_selectors.customer_list_pages(user=specialist, build=build)
    assert pages.count() == build(shared=True).count() == 6  # 3 own + reassigned + 2 shared
    assert [c.pk for c in pages[0:50]] == list(build(shared=True).values_list("pk", flat=True))
    Customer.objects.filter(pk=customer.pk).update(name="陈共享")
    Customer.objects.filter(pk=other_customer.pk).update(name="王共享")
    searched = customer_selectors.customer_list_pages(user=specialist,
                                                      build=lambda shared: build(shared=shared, query="陈"))
    assert searched.count() == build(shared=True, query="陈").count() == 5  # the shared 王 is filtered out


def test_the_paged_list_counts_zero_when_a_filter_can_match_nobody(owner, customer, specialist, make_user):
    """An unknown attribute filter makes the list ``.none()``: the page counts 0 (compiling it raised
    EmptyResultSet), for an RM with a share and for someone who sees every branch."""
    CustomerFactory(branch=specialist.branch, relationship_manager=specialist)
    share(customer, specialist, owner)

    def build_for(user):
        def build(*, shared: bool):
            return customer_selectors.customer_attribute_filter(
                customer_selectors.customer_search_visible_to(user=user, query="", shared=shared),
                code="no_such_attribute", value="1")
        return build

    pages = customer_selectors.customer_list_pages(user=specialist, build=build_for(specialist))
    assert isinstance(pages, customer_selectors.CustomerListWithShares)
    assert (pages.count(), pages[0:50]) == (0, [])
    # Someone who sees every branch (their own scope is Q()): the list counts through its own half only.
    admin = make_user(Role.ADMIN)
    nothing = build_for(admin)(shared=False)
    everything = customer_selectors.CustomerListWithShares(customers=nothing, own=nothing, shared_ids=[customer.pk],
                                                           own_scope=scope.principal_customer_q(admin))
    assert scope.principal_customer_q(admin) == Q()
    assert everything.count() == 0


def test_a_share_ends_after_its_last_day(owner, customer, specialist, time_machine):
    share(customer, specialist, owner, ends_on=TODAY + timedelta(days=2))
    time_machine.move_to(datetime(2030, 3, 12, 23, 59, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
    assert visible_ids(specialist) == {customer.pk}  # the last day itself counts
    time_machine.move_to(datetime(2030, 3, 13, 0, 1, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)
    assert visible_ids(specialist) == set()
    assert not selectors.record_shares_received(user=specialist).exists()


def test_a_revoked_share_stops_at_once(owner, customer, specialist):
    created = share(customer, specialist, owner)
    assert visible_ids(specialist) == {customer.pk}
    customer_services.customer_share_revoke(customer=customer, share=created, by=owner)
    assert visible_ids(specialist) == set()


def test_via_share_marks_a_customer_seen_only_through_a_share(owner, customer, specialist):
    share(customer, specialist, owner)
    seen = customer_selectors.customer_get_visible_to(user=specialist, customer_id=customer.pk, shared=True)
    assert seen.via_share is True
    served = customer_selectors.customer_get_visible_to(user=owner, customer_id=customer.pk, shared=True)
    assert served.via_share is False


def test_an_unassigned_customer_shared_by_the_branch_manager_is_read_only_for_the_colleague(
        branch, specialist, make_user):
    """No RM (NULL column) must not make the share look like the colleague's own customer."""
    unassigned = CustomerFactory(branch=branch, relationship_manager=None)
    share(unassigned, specialist, make_user(Role.BRANCH_MANAGER, username="bm"))
    seen = customer_selectors.customer_get_visible_to(user=specialist, customer_id=unassigned.pk, shared=True)
    assert seen.via_share is True


def test_head_office_roles_keep_seeing_everything(owner, customer, make_user):
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="auditor")
    assert scope.principal_customer_q(auditor, shared_via=CustomerUserObjectPermission) == scope.Q()


def test_api_keys_never_get_shares(owner, customer, specialist, make_user):
    """An API key is not a colleague: no share clause, whatever the table holds."""
    share(customer, specialist, owner)
    api_key, _raw = account_services.api_key_create(name="crm-sync", scopes=["customers:read"],
                                                    by=make_user(Role.ADMIN, username="admin"),
                                                    branch=specialist.branch)
    principal = ApiClient(api_key)
    assert scope.principal_shared_q(principal, shared_via=CustomerUserObjectPermission) is None
    assert customer.pk not in visible_ids(principal)


# --- Complaints ---------------------------------------------------------------------------------


@pytest.fixture
def desk(make_user):
    return make_user(Role.COMPLAINT_DESK, username="desk")


@pytest.fixture
def head_office_desk(head_office):
    return UserFactory(username="ho_desk", branch=head_office, roles=[Role.COMPLAINT_DESK])


def complaint_ids(user, *, shared=True):
    return set(complaint_selectors.complaint_list_visible_to(user=user, shared=shared).values_list("pk", flat=True))


def test_the_desk_shares_one_complaint_with_a_head_office_handler(branch, desk, head_office_desk):
    complaint, other = make_complaint(branch=branch), make_complaint(branch=branch)
    assert complaint_ids(head_office_desk) == set()
    created = complaint_services.complaint_share(complaint=complaint, shared_with=head_office_desk, by=desk,
                                                 reason="Escalated to the head-office team", ends_on=TODAY)
    assert get_user_obj_perms_model(complaint) is ComplaintUserObjectPermission
    assert complaint_ids(head_office_desk) == {complaint.pk}
    assert other.pk not in complaint_ids(head_office_desk)
    assert complaint_ids(head_office_desk, shared=False) == set()
    assert AuditEvent.objects.filter(action=account_services.AUDIT_RECORD_SHARE_CREATE,
                                     detail__record_type="complaints.complaint").exists()

    complaint_services.complaint_share_revoke(complaint=complaint, share=created, by=desk)
    assert complaint_ids(head_office_desk) == set()


@pytest.mark.parametrize("sharer", ["rm", "other_branch_desk", "auditor"])
def test_only_the_branch_desk_manager_or_admin_share_a_complaint(sharer, branch, make_user, head_office,
                                                                  head_office_desk):
    complaint = make_complaint(branch=branch)
    by = {"rm": make_user(Role.RELATIONSHIP_MANAGER, username="rm_x"),
          "other_branch_desk": make_user(Role.COMPLAINT_DESK, username="desk_ho2", branch=head_office),
          "auditor": make_user(Role.COMPLIANCE_AUDITOR, username="auditor")}[sharer]
    with pytest.raises(ApplicationError) as error:
        complaint_services.complaint_share(complaint=complaint, shared_with=head_office_desk, by=by,
                                           reason="x", ends_on=TODAY)
    assert error.value.code == ErrorCode.PERMISSION_DENIED
    assert not ComplaintUserObjectPermission.objects.exists()


def test_a_complaint_cannot_be_shared_with_someone_who_cannot_open_complaints(branch, desk, specialist):
    """An RM has no complaint pages: refused."""
    with pytest.raises(ApplicationError) as error:
        complaint_services.complaint_share(complaint=make_complaint(branch=branch), shared_with=specialist, by=desk,
                                           reason="x", ends_on=TODAY)
    assert "shared_with" in error.value.field_errors


# --- Admin --------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, branch):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, branch=branch)
    client.force_login(superuser)
    client.user = superuser
    return client


def test_admin_lists_shares_read_only(admin_client, owner, customer, specialist):
    created = share(customer, specialist, owner)
    response = admin_client.get(reverse("admin:accounts_recordshare_changelist"), {"q": "specialist"})
    assert response.status_code == 200
    content = response.content.decode()
    assert f"customer #{customer.pk}" in content and "Customer" in content
    change = admin_client.get(reverse("admin:accounts_recordshare_change", args=[created.pk])).content.decode()
    assert "Needs the wealth product review" in change
    assert 'name="_save"' not in change
    assert admin_client.get(reverse("admin:accounts_recordshare_add")).status_code == 403


def test_admin_revoke_action_goes_through_the_service(admin_client, owner, customer, specialist):
    created = share(customer, specialist, owner)
    response = admin_client.post(reverse("admin:accounts_recordshare_changelist"),
                                 {"action": "revoke_selected", "_selected_action": [created.pk]}, follow=True)
    assert "1 share revoked." in response.content.decode()
    created.refresh_from_db()
    assert created.revoked_by == admin_client.user
    assert not CustomerUserObjectPermission.objects.exists()
    assert AuditEvent.objects.filter(action=account_services.AUDIT_RECORD_SHARE_REVOKE).exists()


def test_the_nightly_purge_deletes_only_ended_guardian_rows(owner, customer, other_customer, specialist,
                                                            time_machine):
    """After the last day the guardian row goes (has_perm agrees with the scope); the share row stays."""
    ending = share(customer, specialist, owner, ends_on=TODAY)
    lasting = share(other_customer, specialist, owner, ends_on=TODAY + timedelta(days=3))
    assert account_services.record_share_permissions_expired_purge() == 0  # today still counts
    time_machine.move_to(datetime(2030, 3, 11, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False)

    assert record_share_permissions_expired_purge_task() == 1
    assert list(CustomerUserObjectPermission.objects.values_list("share_id", flat=True)) == [lasting.pk]
    assert RecordShare.objects.filter(pk=ending.pk).exists()
    assert not specialist.has_perm("customers.view_customer", customer)
    assert specialist.has_perm("customers.view_customer", other_customer)
