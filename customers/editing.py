"""The customer edit form's service: correct a customer's information through customers.services.

PII fields (ID number, phone, email, address) are edited only by staff who may reveal PII, and a
PII input left blank keeps the stored value (the form never shows it unmasked). After the change
the data-quality pass runs for the customer, so the issues the edit fixed close at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from accounts import permissions
from accounts.models import User
from core.errors import ApplicationError, ErrorCode
from customers import services
from customers.models import Customer, DataQualityIssue, DataQualityIssueStatus

# What the edit form may change; the rest (branch, RM, status) moves through its own workflows.
EDITABLE_FIELDS = (
    "name", "gender", "birth_date", "occupation", "total_assets", "liabilities", "annual_income",
    "credit_rating", "risk_tolerance", "preferred_channel",
)
PII_EDITABLE_FIELDS = ("id_number", "phone", "email", "address")


@dataclass(frozen=True)
class CustomerEditResult:
    customer: Customer
    changed: bool
    issues_resolved: int


@transaction.atomic
def customer_edit(*, customer: Customer, by: User, fields: dict) -> CustomerEditResult:
    """Apply the form's fields (audited by customers.services.customer_update); close fixed issues.

    The caller has fetched ``customer`` through the scoped selector for ``by``.
    """
    if not permissions.can_edit_customer(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    unknown = set(fields) - set(EDITABLE_FIELDS) - set(PII_EDITABLE_FIELDS)
    if unknown:
        raise ApplicationError.invalid("unknown field", field=sorted(unknown)[0])
    changes = {name: value for name, value in fields.items() if name in EDITABLE_FIELDS}
    pii = {name: value for name, value in fields.items() if name in PII_EDITABLE_FIELDS and value not in (None, "")}
    if pii and not permissions.can_reveal_pii(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    changes.update(pii)
    open_before = set(DataQualityIssue.objects.filter(customer=customer, status=DataQualityIssueStatus.OPEN)
                      .values_list("pk", flat=True))
    before = Customer.objects.filter(pk=customer.pk).values_list("updated_at", flat=True).first()
    updated = services.customer_update(customer=customer, by=by, fields=changes)
    changed = updated.updated_at != before
    if changed:
        services.data_quality_run(customer_ids=[customer.pk])
    resolved = DataQualityIssue.objects.filter(pk__in=open_before, status=DataQualityIssueStatus.RESOLVED).count()
    return CustomerEditResult(customer=updated, changed=changed, issues_resolved=resolved)
