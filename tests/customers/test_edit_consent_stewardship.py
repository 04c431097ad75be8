"""The customer edit form, consent per purpose and channel, and data-quality stewardship (issues 15, 19)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from core.errors import ApplicationError
from core.models import AuditEvent
from customers import consent, editing, services, stewardship
from customers.models import (
    Consent,
    ConsentChange,
    Customer,
    DataQualityIssue,
    DataQualityIssueStatus,
    DataQualityRule,
)
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _in(client, language):
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: language})
    return client


@pytest.fixture
def rm_and_customer(make_user, branch):
    rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_edit")
    customer = CustomerFactory(branch=branch, relationship_manager=rm)
    return rm, customer


def _issue(customer, rule=DataQualityRule.MISSING_FINANCIAL, days_ago=0, **kwargs):
    return DataQualityIssue.objects.create(customer=customer, rule=rule, detail="missing: annual income",
                                           opened_at=timezone.now() - timedelta(days=days_ago), **kwargs)


# --- Edit form -------------------------------------------------------------------------------------


def test_editing_fixes_the_defect_and_closes_its_issue(rm_and_customer, client):
    """Given a customer without annual income (issue open), the RM fills it in: the issue resolves at once."""
    rm, customer = rm_and_customer
    Customer.objects.filter(pk=customer.pk).update(annual_income=None)
    services.data_quality_run()
    issue = DataQualityIssue.objects.get(customer=customer, status=DataQualityIssueStatus.OPEN)
    client.force_login(rm)
    url = reverse("customers:customer-edit", args=[customer.pk])
    page = _in(client, "en").get(url)
    assert page.status_code == 200 and "Edit the information of" in page.content.decode()
    assert "ID number, phone" not in page.content.decode()  # an RM may reveal, so PII inputs are shown
    assert customer.phone not in page.content.decode()  # ... but never the stored values

    data = {"name": customer.name, "gender": customer.gender, "birth_date": customer.birth_date.isoformat(),
            "occupation": customer.occupation, "total_assets": "0", "liabilities": "0",
            "annual_income": "150000", "credit_rating": "A", "risk_tolerance": "R2", "preferred_channel": "mobile",
            "id_number": "", "phone": "", "email": "", "address": ""}
    response = client.post(url, data)

    assert response.status_code == 302
    issue.refresh_from_db()
    assert issue.status == DataQualityIssueStatus.RESOLVED
    customer.refresh_from_db()
    assert customer.annual_income == Decimal("150000") and customer.phone  # blank PII kept
    event = AuditEvent.objects.filter(action="customers.customer_update", target_id=str(customer.pk)).get()
    assert event.detail["fields"] == ["annual_income"]


def test_pii_edit_needs_reveal_rights(rm_and_customer, make_user, branch):
    _rm, customer = rm_and_customer
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud")
    with pytest.raises(ApplicationError):
        editing.customer_edit(customer=customer, by=auditor, fields={"phone": "13800000000"})
    manager = make_user(Role.BRANCH_MANAGER, username="bm")
    result = editing.customer_edit(customer=customer, by=manager, fields={"phone": "13800000000"})
    assert result.changed and Customer.objects.get(pk=customer.pk).phone == "13800000000"


def test_edit_rejects_a_bad_id_number_and_changes_nothing(rm_and_customer):
    rm, customer = rm_and_customer
    before = customer.id_number
    with pytest.raises(ApplicationError):
        editing.customer_edit(customer=customer, by=rm, fields={"id_number": "110105198001011234"})
    assert Customer.objects.get(pk=customer.pk).id_number == before


@pytest.mark.parametrize(("role", "status"), [("rm", 404), ("branch_manager", 200), ("admin", 200),
                                              ("auditor", 403), ("complaint_desk", 403)])
def test_edit_page_roles(client_as, branch, role, status):
    customer = CustomerFactory(branch=branch)  # nobody's customer: an RM does not see it
    assert client_as(role).get(reverse("customers:customer-edit", args=[customer.pk])).status_code == status


def test_360_page_links_to_the_edit_form_and_consent(rm_and_customer, client):
    rm, customer = rm_and_customer
    client.force_login(rm)
    content = _in(client, "zh-hans").get(reverse("customers:customer-detail", args=[customer.pk])).content.decode()
    assert reverse("customers:customer-edit", args=[customer.pk]) in content
    assert reverse("customers:customer-consent", args=[customer.pk]) in content
    assert "修改客户信息" in content


# --- Consent ---------------------------------------------------------------------------------------


def test_give_and_withdraw_marketing_by_sms_keeps_history(rm_and_customer, client):
    rm, customer = rm_and_customer
    client.force_login(rm)
    url = reverse("customers:customer-consent", args=[customer.pk])

    client.post(url, {"purpose": "marketing", "channel": "sms", "state": "given", "method": "branch_form"})
    assert consent.consent_marketing_channels_for(customer=customer) == ["sms"]
    client.post(url, {"purpose": "marketing", "channel": "sms", "state": "withdrawn", "method": "app"})

    assert consent.consent_marketing_channels_for(customer=customer) == []
    current = Consent.objects.get(customer=customer, purpose="marketing", channel="sms")
    assert (current.state, current.method) == ("withdrawn", "app")
    assert list(ConsentChange.objects.filter(customer=customer).order_by("id").values_list("from_state", "state")) \
        == [("unknown", "given"), ("given", "withdrawn")]
    assert AuditEvent.objects.filter(action="customers.consent_set", target_id=str(customer.pk)).count() == 2
    page = _in(client, "zh-hans").get(url).content.decode()
    assert ("营销" in page and "短信" in page and "撤回" in page) or "授权" in page


def test_consent_needs_a_method_and_the_right_role(rm_and_customer, client_as, make_user):
    rm, customer = rm_and_customer
    with pytest.raises(ApplicationError):
        consent.consent_set(customer=customer, purpose="marketing", channel="sms", state="given",
                            method="migrated", by=rm)
    auditor = make_user(Role.COMPLIANCE_AUDITOR, username="aud2")
    with pytest.raises(ApplicationError):
        consent.consent_set(customer=customer, purpose="marketing", channel="sms", state="given",
                            method="branch_form", by=auditor)
    assert not Consent.objects.exists()


def test_consent_page_roles(client_as, branch):
    customer = CustomerFactory(branch=branch)
    url = reverse("customers:customer-consent", args=[customer.pk])
    assert client_as("branch_manager").get(url).status_code == 200
    assert client_as("auditor").get(url).status_code == 200
    assert client_as("rm").get(url).status_code == 404
    data = {"purpose": "marketing", "channel": "sms", "state": "given", "method": "branch_form"}
    assert client_as("auditor", username="aud3").post(url, data).status_code == 403
    assert not Consent.objects.exists()


def test_legacy_single_field_is_carried_over_per_channel(branch):
    """The migration's SQL (also seed_demo's): given marketing becomes given on all four channels."""
    customer = CustomerFactory(branch=branch, consent_marketing="given", consent_data_processing="withdrawn",
                               consent_marketing_at=timezone.now() - timedelta(days=3))
    untouched = CustomerFactory(branch=branch)  # not recorded: no rows

    consent.consent_backfill_from_legacy()
    consent.consent_backfill_from_legacy()  # idempotent

    assert sorted(consent.consent_marketing_channels_for(customer=customer)) == ["app", "email", "phone", "sms"]
    assert Consent.objects.filter(customer=customer, purpose="data_processing", state="withdrawn").count() == 4
    assert Consent.objects.filter(customer=customer).count() == 8
    assert ConsentChange.objects.filter(customer=customer, method="migrated").count() == 8
    assert not Consent.objects.filter(customer=untouched).exists()


def test_migration_sql_matches_the_module():
    from importlib import import_module

    migration = import_module("customers.migrations.0011_consent_from_legacy_fields")
    assert migration.BACKFILL_SQL.split() == consent.LEGACY_BACKFILL_SQL.format(scope="").split()


# --- Stewardship -----------------------------------------------------------------------------------


@pytest.fixture
def manager(make_user):
    return make_user(Role.BRANCH_MANAGER, username="steward_bm")


def test_assign_acknowledge_and_waive_are_audited(manager, rm_and_customer):
    rm, customer = rm_and_customer
    issue = _issue(customer)

    stewardship.data_quality_issue_assign(issue_id=issue.pk, assignee=rm, by=manager)
    stewardship.data_quality_issue_acknowledge(issue_id=issue.pk, by=manager)
    until = timezone.localdate() + timedelta(days=30)
    stewardship.data_quality_issue_waive(issue_id=issue.pk, reason="客户出国 回国后补录", until=until, by=manager)

    issue.refresh_from_db()
    assert issue.assigned_to == rm and issue.acknowledged_by == manager
    assert issue.waived_until == until and issue.status == DataQualityIssueStatus.OPEN
    assert set(AuditEvent.objects.filter(target_id=str(issue.pk)).values_list("action", flat=True)) == {
        stewardship.AUDIT_ASSIGN, stewardship.AUDIT_ACKNOWLEDGE, stewardship.AUDIT_WAIVE}


@pytest.mark.parametrize(("reason", "days"), [("", 10), ("reason", 0), ("reason", 400)])
def test_a_waiver_needs_a_reason_and_an_expiry(manager, rm_and_customer, reason, days):
    _rm, customer = rm_and_customer
    issue = _issue(customer)
    with pytest.raises(ApplicationError):
        stewardship.data_quality_issue_waive(issue_id=issue.pk, reason=reason,
                                             until=timezone.localdate() + timedelta(days=days), by=manager)
    issue.refresh_from_db()
    assert issue.waived_until is None


def test_rm_and_auditor_cannot_steward(make_user, rm_and_customer):
    rm, customer = rm_and_customer
    issue = _issue(customer)
    for user in (rm, make_user(Role.COMPLIANCE_AUDITOR, username="aud4")):
        with pytest.raises(ApplicationError):
            stewardship.data_quality_issue_acknowledge(issue_id=issue.pk, by=user)


def test_a_waived_issue_leaves_the_queue_until_it_expires(manager, rm_and_customer, client):
    _rm, customer = rm_and_customer
    waived = _issue(customer, waived_until=timezone.localdate() + timedelta(days=5), waiver_reason="x")
    expired = _issue(customer, rule=DataQualityRule.STALE, waived_until=timezone.localdate() - timedelta(days=1),
                     waiver_reason="y")
    client.force_login(manager)
    page = _in(client, "en").get(reverse("customers:data-quality-queue"))
    shown = {issue.pk for issue in page.context["page"].object_list}
    assert expired.pk in shown and waived.pk not in shown
    everything = client.get(reverse("customers:data-quality-queue") + "?waived=1")
    assert waived.pk in {issue.pk for issue in everything.context["page"].object_list}


def test_ageing_per_branch(manager, rm_and_customer, client):
    _rm, customer = rm_and_customer
    _issue(customer, days_ago=2)
    _issue(customer, rule=DataQualityRule.STALE, days_ago=20)
    _issue(customer, rule=DataQualityRule.PHONE_FORMAT, days_ago=200)
    ageing = stewardship.data_quality_ageing_by_branch(user=manager)
    assert len(ageing) == 1 and ageing[0].buckets == (1, 1, 0, 1) and ageing[0].unassigned == 3
    client.force_login(manager)
    content = _in(client, "zh-hans").get(reverse("customers:data-quality-queue")).content.decode()
    assert "按网点账龄" in content


def test_issue_page_actions_through_the_browser(manager, rm_and_customer, client):
    rm, customer = rm_and_customer
    issue = _issue(customer)
    client.force_login(manager)
    url = reverse("customers:data-quality-issue", args=[issue.pk])
    assert "Waive for a while" in _in(client, "en").get(url).content.decode()

    assert client.post(url, {"action": "assign", "assignee": rm.pk}).status_code == 302
    bad = client.post(url, {"action": "waive", "reason": "r", "until": timezone.localdate().isoformat()})
    assert bad.status_code == 400
    ok = client.post(url, {"action": "waive", "reason": "r",
                           "until": (timezone.localdate() + timedelta(days=3)).isoformat()})
    assert ok.status_code == 302
    issue.refresh_from_db()
    assert issue.assigned_to == rm and issue.waived_until is not None


@pytest.mark.parametrize(("role", "status"), [("rm", 403), ("auditor", 403), ("complaint_desk", 403),
                                              ("branch_manager", 200), ("admin", 200)])
def test_issue_page_roles(client_as, branch, role, status):
    issue = _issue(CustomerFactory(branch=branch))
    assert client_as(role).get(reverse("customers:data-quality-issue", args=[issue.pk])).status_code == status


def test_queue_links_each_issue_to_the_edit_form(manager, rm_and_customer, client):
    _rm, customer = rm_and_customer
    _issue(customer)
    client.force_login(manager)
    content = client.get(reverse("customers:data-quality-queue")).content.decode()
    assert reverse("customers:customer-edit", args=[customer.pk]) in content


