"""Recording contacts with a customer: by staff on the page, by staff or an API key through the API."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions, scope
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers.models import (
    Customer,
    Interaction,
    InteractionKind,
    InteractionOutcome,
)

logger = logging.getLogger(__name__)

# Interactions are recent contacts; a date before this is a typing error, not history.
INTERACTION_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)

# Clock skew between a phone and the server, not a business number.
INTERACTION_FUTURE_TOLERANCE = timedelta(minutes=5)
AUDIT_API_INTERACTION_RECORD = "customers.interaction_record"


@transaction.atomic
def interaction_record(
    *,
    customer: Customer,
    by: User,
    kind: str,
    occurred_at: datetime,
    summary: str,
    outcome: str,
    next_step: str = "",
    next_step_due_on: date | None = None,
) -> Interaction:
    """Record a contact with the customer made by ``by``.

    The caller has fetched ``customer`` through selectors.customer_get_visible_to for ``by``.
    Not audited: an interaction holds no PII and is itself the record of the contact.
    """
    if not permissions.can_record_interaction(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    fields = _interaction_fields_clean(kind=kind, occurred_at=occurred_at, summary=summary, outcome=outcome,
                                       next_step=next_step, next_step_due_on=next_step_due_on)
    return Interaction.objects.create(customer=customer, staff=by, **fields)


def _interaction_fields_clean(*, kind: str, occurred_at: datetime, summary: str, outcome: str, next_step: str,
                              next_step_due_on: date | None) -> dict:
    """The rules an interaction must meet, whoever records it; return the cleaned fields."""
    if kind not in InteractionKind.values:
        raise ApplicationError.invalid(_("Choose a kind of interaction from the list."), field="kind")
    if outcome not in InteractionOutcome.values:
        raise ApplicationError.invalid(_("Choose an outcome from the list."), field="outcome")
    summary = (summary or "").strip()
    if not summary:
        raise ApplicationError.invalid(_("Describe what was discussed."), field="summary")
    if len(summary) > Interaction._meta.get_field("summary").max_length:
        raise ApplicationError.invalid(_("The summary is too long."), field="summary")
    if timezone.is_naive(occurred_at):
        occurred_at = timezone.make_aware(occurred_at)
    if occurred_at > timezone.now() + INTERACTION_FUTURE_TOLERANCE:
        raise ApplicationError.invalid(_("An interaction cannot be recorded before it happens."), field="occurred_at")
    if occurred_at < INTERACTION_EARLIEST:
        raise ApplicationError.invalid(
            _("Check the date: interactions before 2000 cannot be recorded."), field="occurred_at"
        )
    next_step = (next_step or "").strip()
    if next_step_due_on is not None:
        if not next_step:
            raise ApplicationError.invalid(_("Describe the next step that is due."), field="next_step")
        if next_step_due_on < timezone.localdate(occurred_at):
            raise ApplicationError.invalid(
                _("The next step cannot be due before the interaction."), field="next_step_due_on"
            )
    return {"kind": kind, "occurred_at": occurred_at, "summary": summary, "outcome": outcome,
            "next_step": next_step, "next_step_due_on": next_step_due_on}



@transaction.atomic
def interaction_record_by(
    *,
    customer: Customer,
    by,
    kind: str,
    occurred_at: datetime,
    summary: str,
    outcome: str,
    next_step: str = "",
    next_step_due_on: date | None = None,
) -> Interaction:
    """Record a contact through the API: staff through interaction_record, an API key (staff left
    empty) under the same rules, audited, since no staff member's name is on the row."""
    fields = {"kind": kind, "occurred_at": occurred_at, "summary": summary, "outcome": outcome,
              "next_step": next_step, "next_step_due_on": next_step_due_on}
    if scope.is_staff_principal(by):
        return interaction_record(customer=customer, by=by, **fields)
    # interaction_record's rules; its permission check and staff column assume a User.
    fields = _interaction_fields_clean(**fields)
    interaction = Interaction.objects.create(customer=customer, staff=None, **fields)
    audit_record(actor=by, action=AUDIT_API_INTERACTION_RECORD, target=interaction,
                 detail={"customer_id": customer.pk, "kind": kind})
    return interaction

