"""Revealing PII, recording interactions and versioning the data-quality policy."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Role
from core.audit import AuditAction
from core.errors import ApplicationError, ErrorCode
from core.models import AuditEvent
from customers import selectors, services
from customers.models import Customer, DataQualityPolicy, Interaction, InteractionKind, InteractionOutcome
from tests.customers.factories import CustomerFactory

PHONE = "13912345678"


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")


@pytest.fixture
def customer(branch, rm):
    return CustomerFactory(branch=branch, relationship_manager=rm, phone=PHONE, email="zhang.san@example.cn",
                           address="北京市朝阳区建国路88号")


# --- Reveal -------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["rm", "branch_manager", "complaint_desk", "admin"])
@pytest.mark.parametrize("field", ["id_number", "phone", "email", "address"])
def test_reveal_returns_plaintext_and_audits_field_name_only(customer, rm, user_for_role, role, field):
    """Serving roles get the plaintext; the audit row names the field and never holds the value."""
    # given
    user = rm if role == "rm" else user_for_role(role)
    fetched = selectors.customer_get_visible_to(user=user, customer_id=customer.pk)
    # when
    value = services.customer_pii_reveal(customer=fetched, field=field, by=user)
    # then
    assert value == getattr(customer, field)
    event = AuditEvent.objects.get()
    assert (event.action, event.actor_id, event.target_type, event.target_id, event.detail) == (
        AuditAction.PII_REVEAL, user.pk, "customers.customer", str(customer.pk), {"field": field})
    assert value not in str(event.detail) and value not in event.hash


def test_auditor_may_not_reveal_and_nothing_is_written(customer, user_for_role):
    """A compliance auditor reads masked data only: refused, with no audit row."""
    auditor = user_for_role("auditor")
    fetched = selectors.customer_get_visible_to(user=auditor, customer_id=customer.pk)
    with pytest.raises(ApplicationError) as excinfo:
        services.customer_pii_reveal(customer=fetched, field="phone", by=auditor)
    assert excinfo.value.code == ErrorCode.PERMISSION_DENIED
    assert not AuditEvent.objects.exists()


def test_reveal_of_unknown_field_is_refused(customer, rm):
    with pytest.raises(ApplicationError) as excinfo:
        services.customer_pii_reveal(customer=customer, field="name", by=rm)
    assert excinfo.value.code == ErrorCode.INVALID
    assert not AuditEvent.objects.exists()


def test_reveal_outside_scope_is_not_found(customer, make_user):
    """Passing another RM's customer object does not bypass scoping: DoesNotExist, nothing audited."""
    other_rm = make_user(Role.RELATIONSHIP_MANAGER, username="rm_li")
    with pytest.raises(Customer.DoesNotExist):
        services.customer_pii_reveal(customer=customer, field="phone", by=other_rm)
    assert not AuditEvent.objects.exists()


def test_reveal_of_empty_field_returns_empty_string_and_is_audited(branch, rm):
    customer = CustomerFactory(branch=branch, relationship_manager=rm, email=None)
    assert services.customer_pii_reveal(customer=customer, field="email", by=rm) == ""
    assert AuditEvent.objects.count() == 1


# --- Interactions -------------------------------------------------------------------------------


def _record(customer, by, **overrides):
    arguments = {
        "kind": InteractionKind.VISIT,
        "occurred_at": timezone.now() - timedelta(hours=1),
        "summary": "  到访网点咨询大额存单  ",
        "outcome": InteractionOutcome.INTERESTED,
        "next_step": "",
        "next_step_due_on": None,
    }
    return services.interaction_record(customer=customer, by=by, **{**arguments, **overrides})


def test_rm_records_interaction(customer, rm):
    """The interaction is saved with its author, the summary trimmed; no audit row (no PII)."""
    due = timezone.localdate() + timedelta(days=7)
    interaction = _record(customer, rm, next_step="寄送产品说明书", next_step_due_on=due)
    assert interaction.pk is not None
    assert (interaction.staff, interaction.next_step_due_on) == (rm, due)
    assert interaction.summary == "到访网点咨询大额存单"
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("role", ["branch_manager", "complaint_desk", "admin"])
def test_other_serving_roles_record_interactions(customer, user_for_role, role):
    assert _record(customer, user_for_role(role)).pk is not None


def test_auditor_cannot_record(customer, user_for_role):
    with pytest.raises(ApplicationError) as excinfo:
        _record(customer, user_for_role("auditor"))
    assert excinfo.value.code == ErrorCode.PERMISSION_DENIED
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    ("offset", "allowed"),
    [(timedelta(minutes=4), True), (timedelta(minutes=6), False), (timedelta(days=1), False)],
)
def test_interaction_not_in_the_future_beyond_clock_skew(customer, rm, time_machine, offset, allowed):
    """Up to five minutes ahead is tolerated (device clocks); later is refused."""
    time_machine.move_to(datetime(2030, 5, 6, 10, 0, tzinfo=timezone.get_current_timezone()), tick=False)
    occurred_at = timezone.now() + offset
    if allowed:
        assert _record(customer, rm, occurred_at=occurred_at).occurred_at == occurred_at
    else:
        with pytest.raises(ApplicationError) as excinfo:
            _record(customer, rm, occurred_at=occurred_at)
        assert excinfo.value.field_errors.keys() == {"occurred_at"}
        assert not Interaction.objects.exists()


@pytest.mark.parametrize(
    ("occurred_at", "allowed"),
    [(datetime(1, 1, 1, tzinfo=UTC), False), (datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), False),
     (datetime(2000, 1, 1, tzinfo=UTC), True)],
)
def test_interaction_dates_before_2000_are_typing_errors(customer, rm, occurred_at, allowed):
    if allowed:
        assert _record(customer, rm, occurred_at=occurred_at).pk
    else:
        with pytest.raises(ApplicationError) as excinfo:
            _record(customer, rm, occurred_at=occurred_at)
        assert excinfo.value.field_errors.keys() == {"occurred_at"}
        assert not Interaction.objects.exists()


@pytest.mark.parametrize(("due_offset_days", "allowed"), [(-1, False), (0, True), (1, True)])
def test_next_step_not_due_before_the_interaction(customer, rm, due_offset_days, allowed):
    """Due on the interaction's own (local) day is fine; the day before is refused."""
    occurred_at = timezone.make_aware(datetime(2025, 3, 10, 0, 30))  # local time: just after midnight
    due = date(2025, 3, 10) + timedelta(days=due_offset_days)
    if allowed:
        assert _record(customer, rm, occurred_at=occurred_at, next_step="回电", next_step_due_on=due).pk
    else:
        with pytest.raises(ApplicationError) as excinfo:
            _record(customer, rm, occurred_at=occurred_at, next_step="回电", next_step_due_on=due)
        assert excinfo.value.field_errors.keys() == {"next_step_due_on"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "fax"}, "kind"),
        ({"outcome": "maybe"}, "outcome"),
        ({"summary": "   "}, "summary"),
        ({"summary": "字" * 2001}, "summary"),
        ({"next_step": "", "next_step_due_on": date(2099, 1, 1)}, "next_step"),
    ],
)
def test_invalid_interaction_input(customer, rm, overrides, field):
    with pytest.raises(ApplicationError) as excinfo:
        _record(customer, rm, **overrides)
    assert excinfo.value.code == ErrorCode.INVALID
    assert excinfo.value.field_errors.keys() == {field}
    assert not Interaction.objects.exists()


# --- Data-quality policy ------------------------------------------------------------------------


def test_admin_creates_next_policy_version(make_user):
    """Saving numbers makes version max + 1 and audits it; version 1 stays as it was."""
    admin = make_user(Role.ADMIN, username="admin_sun")
    policy = services.data_quality_policy_create(stale_after_days=180, assets_tolerance_pct=Decimal("5.5"),
                                                 by=admin)
    assert (policy.version, policy.stale_after_days, policy.assets_tolerance_pct, policy.created_by) == (
        2, 180, Decimal("5.5"), admin)
    assert DataQualityPolicy.objects.get(version=1).stale_after_days == 365
    assert selectors.data_quality_policy_latest() == policy
    event = AuditEvent.objects.get()
    assert event.detail == {"version": 2, "stale_after_days": 180, "assets_tolerance_pct": "5.5"}


@pytest.mark.parametrize("role", ["rm", "branch_manager", "auditor"])
def test_only_admin_creates_policy(user_for_role, role):
    with pytest.raises(ApplicationError):
        services.data_quality_policy_create(stale_after_days=30, assets_tolerance_pct=Decimal("1"),
                                            by=user_for_role(role))
    assert DataQualityPolicy.objects.count() == 1


@pytest.mark.parametrize(
    ("days", "pct", "field"),
    [(0, Decimal("10"), "stale_after_days"), (30, Decimal("-0.01"), "assets_tolerance_pct"),
     (30, Decimal("100.01"), "assets_tolerance_pct"), (30, Decimal("1.005"), "assets_tolerance_pct")],
)
def test_policy_numbers_are_validated(make_user, days, pct, field):
    admin = make_user(Role.ADMIN, username="admin_sun")
    with pytest.raises(ApplicationError) as excinfo:
        services.data_quality_policy_create(stale_after_days=days, assets_tolerance_pct=pct, by=admin)
    assert excinfo.value.field_errors.keys() == {field}
