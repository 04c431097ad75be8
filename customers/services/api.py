"""The REST API's writes of customers, holdings and products (issue #4)."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Branch
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers import consent, rules, selectors
from customers.models import (
    Customer,
    Holding,
    Product,
    ProductCategory,
    RiskLevel,
)

logger = logging.getLogger(__name__)

# ``by`` is the request's principal: a staff User or an accounts.models.ApiClient (another bank
# system). The API view has checked the method's scope or role; these functions check the object:
# a caller may only write a customer it can see before and after the write (an RM cannot hand a
# customer to another RM, a branch key cannot move one to another branch). Every write is audited
# with the principal as actor, so an API key's writes read "api-key:<name>" in the audit log.

AUDIT_API_CUSTOMER_CREATE = "customers.customer_create"
AUDIT_API_CUSTOMER_UPDATE = "customers.customer_update"
AUDIT_API_HOLDING_UPSERT = "customers.holding_upsert"
AUDIT_API_PRODUCT_UPSERT = "customers.product_upsert"

# Fields an API caller may write on a customer; branch and relationship_manager arrive as a
# branch code and a staff number and are resolved here.
CUSTOMER_API_WRITABLE_FIELDS = (
    "name", "gender", "birth_date", "occupation", "id_number", "phone", "email", "address",
    "branch", "relationship_manager", "customer_since", "status", "closed_on", "closed_reason",
    "total_assets", "liabilities", "annual_income", "credit_rating", "credit_score", "credit_grade_policy",
    "region", "risk_tolerance",
    "consent_data_processing", "consent_marketing", "consent_channel", "preferred_channel",
)
CUSTOMER_API_REQUIRED_ON_CREATE = ("name", "branch")



def _customer_visible(*, by, customer_id: int) -> bool:
    return selectors.customer_list_for_principal(principal=by).filter(pk=customer_id).exists()


def _invalid(violations: list[rules.Violation]) -> ApplicationError:
    """One INVALID error naming every violated rule, field by field."""
    field_errors: dict[str, list[str]] = {}
    for violation in violations:
        field_errors.setdefault(violation.field, []).append(violation.message)
    return ApplicationError(ErrorCode.INVALID, violations[0].message, field_errors=field_errors)


def _customer_fields_resolve(*, fields: dict) -> dict:
    """Turn the API's references (branch code, RM staff number) into ids; check each value (customers.rules)."""
    resolved, violations = rules.customer_values_clean(fields)
    if not violations:
        rules.credit_grade_derive(resolved, policy=rules.credit_grade_policy_latest())
    if "branch" in resolved:
        branch_id = Branch.objects.filter(code=resolved["branch"]).values_list("pk", flat=True).first()
        if branch_id is None:
            violations.append(rules.Violation("branch", rules.BRANCH_UNKNOWN))
        resolved["branch"] = branch_id
    if resolved.get("relationship_manager"):
        managers = rules.relationship_managers_by_staff_number([resolved["relationship_manager"]])
        manager = managers.get(resolved["relationship_manager"])
        if manager is None:
            violations.append(rules.Violation("relationship_manager", rules.RM_UNKNOWN))
        resolved["relationship_manager"] = manager.user_id if manager else None
    elif "relationship_manager" in resolved:
        resolved["relationship_manager"] = None
    if violations:
        raise _invalid(violations)
    return resolved


def _customer_state_check(customer: Customer, *, changed: list[str]) -> None:
    """The rules that span fields, checked on the merged state (so PATCH cannot break them)."""
    violations = rules.customer_state_violations(
        status=customer.status, closed_on=customer.closed_on, id_number=customer.id_number,
        birth_date=customer.birth_date,
    )
    if customer.relationship_manager_id and {"branch", "relationship_manager"} & set(changed):
        code = rules.relationship_manager_user_violation(customer.relationship_manager_id,
                                                         branch_id=customer.branch_id)
        if code:
            violations.append(rules.Violation("relationship_manager", code))
    if violations:
        raise _invalid(violations)


def _customer_apply(*, customer: Customer, fields: dict) -> list[str]:
    """Set the given fields on the customer; return the names that changed."""
    changed = []
    now = timezone.now()
    for name, value in fields.items():
        if name not in CUSTOMER_API_WRITABLE_FIELDS:
            continue
        attname = f"{name}_id" if name in ("branch", "relationship_manager", "credit_grade_policy") else name
        if getattr(customer, attname) != value:
            setattr(customer, attname, value)
            changed.append(name)
    for consent_field in ("consent_data_processing", "consent_marketing"):
        if consent_field in changed:
            setattr(customer, f"{consent_field}_at", now)
    if changed or customer.pk is None:
        customer.info_updated_at = now
    return changed


def _customer_save(*, customer: Customer) -> None:
    try:
        with transaction.atomic():
            customer.save()
    except IntegrityError as exc:
        raise ApplicationError(
            ErrorCode.CONFLICT, _("A customer with this customer number already exists."),
            field_errors={"external_id": [_("A customer with this customer number already exists.")]},
        ) from exc


def _customer_insert_unless_taken(*, customer: Customer) -> bool:
    """INSERT the new customer ... ON CONFLICT (external_id) DO NOTHING; return whether it went in.

    Values are prepared as Model.save() would (PII encrypted, blind indexes, auto times). A
    concurrent insert of the same number makes PostgreSQL wait for that transaction and then do
    nothing, so the caller can update the row the other one created instead of failing.
    """
    meta = Customer._meta
    fields = [field for field in meta.concrete_fields if not (field.primary_key or field.generated)]
    values = [field.get_db_prep_save(field.pre_save(customer, add=True), connection) for field in fields]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {connection.ops.quote_name(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
            "ON CONFLICT (external_id) DO NOTHING RETURNING id, completeness_score",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    customer.pk, customer.completeness_score = row  # the score is computed by the database
    customer._state.adding = False
    return True


def _customer_new(*, external_id: str, fields: dict) -> tuple[Customer, list[str]]:
    """A new, checked, unsaved customer and the names of the fields set."""
    missing = [name for name in CUSTOMER_API_REQUIRED_ON_CREATE if fields.get(name) in (None, "")]
    if missing:
        message = _("This field is required.")
        raise ApplicationError(ErrorCode.INVALID, message, field_errors={name: [message] for name in missing})
    customer = Customer(external_id=external_id)
    changed = _customer_apply(customer=customer, fields=_customer_fields_resolve(fields=fields))
    _customer_state_check(customer, changed=changed)
    return customer, changed


def _customer_created(*, by, customer: Customer, changed: list[str]) -> Customer:
    if not _customer_visible(by=by, customer_id=customer.pk):
        # Rolls the insert back: a caller cannot create a customer outside its own scope.
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("You cannot create a customer outside your scope."))
    consent.consent_record_reported(reported=[(customer.pk, name) for name in changed])
    audit_record(actor=by, action=AUDIT_API_CUSTOMER_CREATE, target=customer, detail={"fields": sorted(changed)})
    return customer


@transaction.atomic
def customer_create(*, by, external_id: str, fields: dict) -> Customer:
    """Create a customer the caller will be able to see; audit it. Raises CONFLICT for a taken number."""
    customer, changed = _customer_new(external_id=external_id, fields=fields)
    if not _customer_insert_unless_taken(customer=customer):
        raise ApplicationError(
            ErrorCode.CONFLICT, _("A customer with this customer number already exists."),
            field_errors={"external_id": [_("A customer with this customer number already exists.")]},
        )
    return _customer_created(by=by, customer=customer, changed=changed)


@transaction.atomic
def customer_update(*, customer: Customer, by, fields: dict) -> Customer:
    """Change the given fields of a customer the caller sees (fetched through the selector); audit it.

    Fields left out keep their values. The result must still be in the caller's scope.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = _customer_apply(customer=customer, fields=_customer_fields_resolve(fields=fields))
    if not changed:
        return selectors.customer_get_for_principal(principal=by, customer_id=customer.pk)
    _customer_state_check(customer, changed=changed)
    _customer_save(customer=customer)
    if not _customer_visible(by=by, customer_id=customer.pk):
        raise ApplicationError(
            ErrorCode.PERMISSION_DENIED, _("You cannot move a customer outside your scope.")
        )
    consent.consent_record_reported(reported=[(customer.pk, name) for name in changed])
    # Field names only: the values may be PII.
    audit_record(actor=by, action=AUDIT_API_CUSTOMER_UPDATE, target=customer, detail={"fields": sorted(changed)})
    return selectors.customer_get_for_principal(principal=by, customer_id=customer.pk)


@transaction.atomic
def customer_upsert_by_external_id(*, by, external_id: str, fields: dict) -> tuple[Customer, bool]:
    """Create the customer with this customer number, or update it; return (customer, created).

    A customer that exists outside the caller's scope raises Customer.DoesNotExist (a 404), as
    any foreign object does. Repeating the same call changes nothing the second time.
    """
    existing = Customer.objects.select_for_update().filter(external_id=external_id).first()
    if existing is None:
        customer, changed = _customer_new(external_id=external_id, fields=fields)
        if _customer_insert_unless_taken(customer=customer):
            return _customer_created(by=by, customer=customer, changed=changed), True
        # Created meanwhile by a concurrent call (committed, since ON CONFLICT waited for it): update it.
        existing = Customer.objects.select_for_update().get(external_id=external_id)
    if not _customer_visible(by=by, customer_id=existing.pk):
        raise Customer.DoesNotExist
    return customer_update(customer=existing, by=by, fields=fields), False


@transaction.atomic
def holding_upsert(
    *,
    customer: Customer,
    by,
    product_code: str,
    balance: Decimal,
    opened_on: date,
    closed_on: date | None = None,
    external_ref: str | None = None,
) -> tuple[Holding, bool]:
    """Create or update the customer's holding of a product; return (holding, created).

    The holding is found by ``external_ref`` when given (one without a reference of the same
    product is adopted), else by (customer, product). Several holdings of the product and no
    reference to pick one is a CONFLICT. Upserts of one customer are serialised on its row.
    """
    Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).get()
    product = Product.objects.filter(code=product_code).first()
    if product is None:
        raise ApplicationError(ErrorCode.NOT_FOUND, _("No product has this code."))
    if closed_on is not None and closed_on < opened_on:
        raise ApplicationError.invalid(_("A holding cannot close before it opens."), field="closed_on")
    same_product = Holding.objects.select_for_update().filter(customer=customer, product=product)
    holding = None
    if external_ref:
        holding = Holding.objects.select_for_update().filter(external_ref=external_ref).first()
        if holding is not None and (holding.customer_id != customer.pk or holding.product_id != product.pk):
            message = _("This external reference belongs to another holding.")
            raise ApplicationError(ErrorCode.CONFLICT, message, field_errors={"external_ref": [message]})
        if holding is None:
            unreferenced = list(same_product.filter(external_ref__isnull=True)[:2])
            holding = unreferenced[0] if len(unreferenced) == 1 else None
    else:
        candidates = list(same_product[:2])
        if len(candidates) > 1:
            message = _("The customer holds this product more than once; send external_ref to pick one.")
            raise ApplicationError(ErrorCode.CONFLICT, message, field_errors={"external_ref": [message]})
        holding = candidates[0] if candidates else None
    created = holding is None
    if created:
        holding = Holding(customer=customer, product=product)
    values = {"balance": balance, "opened_on": opened_on, "closed_on": closed_on}
    if external_ref:
        values["external_ref"] = external_ref
    changed = sorted(name for name, value in values.items() if getattr(holding, name) != value)
    for name, value in values.items():
        setattr(holding, name, value)
    if created or changed:
        holding.save()
        audit_record(actor=by, action=AUDIT_API_HOLDING_UPSERT, target=holding, detail={
            "customer_id": customer.pk, "product": product.code, "created": created, "fields": changed,
        })
    return holding, created



@transaction.atomic
def product_upsert(*, by, code: str, name: str, category: str, risk_level: str,
                   is_active: bool = True) -> tuple[Product, bool]:
    """Create or update the product with this code; return (product, created). Audited when it changes."""
    if category not in ProductCategory.values:
        raise ApplicationError.invalid(_("Choose a product category from the list."), field="category")
    if risk_level not in RiskLevel.values:
        raise ApplicationError.invalid(_("Choose a risk level from the list."), field="risk_level")
    name = (name or "").strip()
    if not name:
        raise ApplicationError.invalid(_("Give the product a name."), field="name")
    product = Product.objects.select_for_update().filter(code=code).first()
    created = product is None
    if created:
        product = Product(code=code)
    values = {"name": name, "category": category, "risk_level": risk_level, "is_active": is_active}
    changed = sorted(field_name for field_name, value in values.items() if getattr(product, field_name) != value)
    if not (created or changed):
        return product, False
    for field_name, value in values.items():
        setattr(product, field_name, value)
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # a concurrent create of the same code
        raise ApplicationError(ErrorCode.CONFLICT, _("The product was changed meanwhile; retry.")) from exc
    audit_record(actor=by, action=AUDIT_API_PRODUCT_UPSERT, target=product,
                 detail={"code": code, "created": created, "fields": changed})
    return product, created

