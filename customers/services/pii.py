"""Exact identifier searches and PII reveals, each audited in the same transaction (STYLE.md §11)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from accounts.reveal_budget import reveal_budget_check
from core.audit import AuditAction, audit_record
from core.errors import ApplicationError, ErrorCode
from customers import selectors
from customers.models import (
    Customer,
)

logger = logging.getLogger(__name__)

PII_FIELDS = Customer.PII_FIELDS
AUDIT_IDENTIFIER_SEARCH = "customers.identifier_search"
AUDIT_OUT_OF_SCOPE = "customers.out_of_scope"


@transaction.atomic
def customer_identifier_search(*, user: User, id_number: str | None = None, phone: str | None = None,
                               limit: int = 20) -> list[Customer]:
    """Find the user's customers by exact ID number or phone; audit the lookup (never the number).

    An exact lookup answers "is this person our customer?", so each one leaves an audit row
    naming the kind of number and how many customers matched.
    """
    customers = list(
        selectors.customer_search_visible_to(user=user, query="", id_number=id_number, phone=phone)[:limit]
    )
    audit_record(actor=user, action=AUDIT_IDENTIFIER_SEARCH, detail={
        "kind": "id_number" if id_number else "phone", "matches": len(customers),
    })
    return customers


def customer_out_of_scope_record(*, user: User, customer_id: int) -> None:
    """Audit an attempt to open a customer outside the user's scope (the page answers 404)."""
    audit_record(actor=user, action=AUDIT_OUT_OF_SCOPE, detail={"customer_id": customer_id})



def customer_pii_reveal(*, customer: Customer, field: str, by: User) -> str:
    """Within ``by``'s hourly reveal budget (accounts.reveal_budget, its refusal committed), reveal one field."""
    reveal_budget_check(user=by)
    return _customer_pii_reveal(customer=customer, field=field, by=by)


@transaction.atomic
def _customer_pii_reveal(*, customer: Customer, field: str, by: User) -> str:
    """Return one PII field of the customer in plaintext and audit who saw it ("" when empty).

    The caller has fetched ``customer`` through selectors.customer_get_visible_to for ``by``;
    the value is re-read through the same scope, so a customer outside it raises
    Customer.DoesNotExist (a 404) rather than being revealed. The audit row names the field,
    never the value.
    """
    if field not in PII_FIELDS:
        raise ApplicationError.invalid(_("This field cannot be revealed."), field="field")
    if not permissions.can_reveal_pii(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    plaintext = (
        selectors.customer_list_visible_to(user=by).values_list(field, flat=True).get(pk=customer.pk)
    )
    audit_record(actor=by, action=AuditAction.PII_REVEAL, target=customer, detail={"field": field})
    return plaintext or ""



def customer_pii_read_record(*, by, customers: list[Customer]) -> None:
    """Audit that the caller received these customers' PII unmasked (ids and field names only)."""
    if not customers:
        return
    with transaction.atomic():
        audit_record(
            actor=by, action=AuditAction.PII_REVEAL, target=customers[0] if len(customers) == 1 else None,
            detail={"fields": list(PII_FIELDS), "customer_ids": [customer.pk for customer in customers],
                    "via": "api"},
        )


@transaction.atomic
def customer_identifier_lookup(*, by, id_number: str | None = None, phone: str | None = None,
                               limit: int = 20) -> list[Customer]:
    """Find the caller's customers by exact ID number or phone; audit the kind and match count only."""
    customers = list(
        selectors.customer_find_by_identifier_for_principal(principal=by, id_number=id_number, phone=phone)[:limit]
    )
    audit_record(actor=by, action=AUDIT_IDENTIFIER_SEARCH, detail={
        "kind": "id_number" if id_number else "phone", "matches": len(customers), "via": "api",
    })
    return customers

