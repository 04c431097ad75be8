"""The one home of the customer rules: what a customer's values must be, whoever writes them.

The API services (customers.services.api), the import (customers.importing), the page forms and
the data-quality pass (customers.services.data_quality) all call these functions, so a row the
API refuses is refused by the import with the same reason, and the other way round
(tests/customers/test_rules.py feeds the same rows through both).

Each check returns ``Violation``s: a field, a stable code and a translated message. Messages
never quote the value (it may be PII). Phone and ID-number normalisation and the GB 11643
check character come from core.identifiers, shared with core.crypto and complaints.

Rules:
- phone: normalised (separators and a 0086 / +86 prefix dropped), then an 11-digit mainland
  mobile number 1[3-9]xxxxxxxxx;
- id_number: whitespace dropped, x upper-cased; 17 digits and a check character that matches
  (GB 11643); digits 7-14 equal the birth date when both are known;
- birth_date, customer_since, closed_on: from 1900-01-01 to today (a birth date in 2090 is a
  typing error);
- status: a closed customer needs a closing date, an active one must not have one;
- relationship manager: an active user holding the relationship-manager role, working in the
  customer's branch (an inactive complaint-desk user is never an RM).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from core import identifiers
from customers.models import CREDIT_SCORE_MAX, CREDIT_SCORE_MIN, CreditGradePolicy, CustomerStatus

EARLIEST_DATE = date(1900, 1, 1)
DATE_FIELDS = ("birth_date", "customer_since", "closed_on")

# Stable codes (tests and the import report key on them) and their messages.
PHONE_INVALID = "phone_invalid"
ID_SHAPE = "id_shape"
ID_CHECK_CHARACTER = "id_check_character"
ID_BIRTH_DATE = "id_birth_date"
DATE_RANGE = "date_range"
CLOSED_WITHOUT_DATE = "closed_without_date"
ACTIVE_WITH_CLOSING_DATE = "active_with_closing_date"
CREDIT_SCORE_RANGE = "credit_score_range"
BRANCH_UNKNOWN = "branch_unknown"
RM_UNKNOWN = "rm_unknown"
RM_OTHER_BRANCH = "rm_other_branch"

MESSAGES = {
    PHONE_INVALID: _("Enter an 11-digit mainland mobile number (13-19...)."),
    ID_SHAPE: _("Enter an 18-character resident ID number."),
    ID_CHECK_CHARACTER: _("The check character of the ID number does not match (GB 11643)."),
    ID_BIRTH_DATE: _("The birth date in the ID number differs from the birth date."),
    DATE_RANGE: _("Enter a date between 1900-01-01 and today."),
    CLOSED_WITHOUT_DATE: _("A closed customer needs a closing date."),
    ACTIVE_WITH_CLOSING_DATE: _("An active customer cannot have a closing date."),
    CREDIT_SCORE_RANGE: _("A credit score is a whole number from 300 to 850."),
    BRANCH_UNKNOWN: _("No branch has this code."),
    RM_UNKNOWN: _("No active relationship manager has this staff number."),
    RM_OTHER_BRANCH: _("This relationship manager works in another branch than the customer's."),
}


@dataclass(frozen=True)
class Violation:
    field: str
    code: str

    @property
    def message(self) -> str:
        return str(MESSAGES[self.code])


# --- One value at a time ------------------------------------------------------------------------


def phone_normalise(value: str | None) -> str:
    return identifiers.phone_normalise(value)


def id_number_normalise(value: str | None) -> str:
    return identifiers.resident_id_normalise(value)


def phone_violation(phone: str) -> str | None:
    """The code for a normalised phone that is not a mainland mobile number, else None."""
    return None if identifiers.phone_is_mainland_mobile(phone) else PHONE_INVALID


def id_number_violation(id_number: str) -> str | None:
    """ID_SHAPE / ID_CHECK_CHARACTER for a normalised resident ID number, else None."""
    defect = identifiers.resident_id_defect(id_number)
    if defect == identifiers.ID_SHAPE:
        return ID_SHAPE
    if defect == identifiers.ID_CHECK_CHARACTER:
        return ID_CHECK_CHARACTER
    return None


def id_number_birth_date_differs(id_number: str, birth_date: date | None) -> bool:
    """Whether a well-shaped ID number encodes another birth date than the recorded one."""
    if birth_date is None or not identifiers.RESIDENT_ID_PATTERN.fullmatch(id_number):
        return False
    return identifiers.resident_id_birth_date(id_number) != birth_date


def date_violation(value: date | None, *, today: date | None = None) -> str | None:
    if value is None:
        return None
    today = today or timezone.localdate()
    return None if EARLIEST_DATE <= value <= today else DATE_RANGE


# --- A customer's values ------------------------------------------------------------------------


def customer_values_clean(values: dict, *, today: date | None = None) -> tuple[dict, list[Violation]]:
    """Normalise the given customer values and check each on its own; return (cleaned, violations).

    Only the keys present are checked (a PATCH sends some); empty phone and ID number stay empty.
    """
    cleaned = dict(values)
    violations: list[Violation] = []
    if cleaned.get("phone"):
        cleaned["phone"] = phone_normalise(cleaned["phone"])
        code = phone_violation(cleaned["phone"])
        if code:
            violations.append(Violation("phone", code))
    if cleaned.get("id_number"):
        cleaned["id_number"] = id_number_normalise(cleaned["id_number"])
        code = id_number_violation(cleaned["id_number"])
        if code:
            violations.append(Violation("id_number", code))
    score = cleaned.get("credit_score")
    if score is not None and not CREDIT_SCORE_MIN <= score <= CREDIT_SCORE_MAX:
        violations.append(Violation("credit_score", CREDIT_SCORE_RANGE))
    today = today or timezone.localdate()
    for name in DATE_FIELDS:
        code = date_violation(cleaned.get(name), today=today)
        if code:
            violations.append(Violation(name, code))
    return cleaned, violations


def customer_state_violations(*, status: str | None, closed_on: date | None, id_number: str | None,
                              birth_date: date | None, has_closed_on_field: bool = True) -> list[Violation]:
    """The rules spanning fields, on the merged state (so a partial update cannot break them)."""
    violations = []
    if status == CustomerStatus.CLOSED and closed_on is None:
        violations.append(Violation("closed_on" if has_closed_on_field else "status", CLOSED_WITHOUT_DATE))
    elif status == CustomerStatus.ACTIVE and closed_on is not None:
        violations.append(Violation("closed_on", ACTIVE_WITH_CLOSING_DATE))
    if id_number and id_number_birth_date_differs(id_number, birth_date):
        violations.append(Violation("id_number", ID_BIRTH_DATE))
    return violations


# --- Relationship managers -----------------------------------------------------------------------


@dataclass(frozen=True)
class EligibleManager:
    user_id: int
    branch_id: int | None


def relationship_managers_by_staff_number(staff_numbers: Iterable[str]) -> dict[str, EligibleManager]:
    """The staff numbers that name an active relationship manager, with their branch (one query)."""
    wanted = {number for number in staff_numbers if number}
    if not wanted:
        return {}
    rows = (User.objects.filter(staff_number__in=wanted, is_active=True, groups__name=Role.RELATIONSHIP_MANAGER)
            .values_list("staff_number", "pk", "branch_id").distinct())
    return {number: EligibleManager(user_id=pk, branch_id=branch_id) for number, pk, branch_id in rows}


def relationship_manager_violation(manager: EligibleManager | None, *, branch_id: int | None) -> str | None:
    """RM_UNKNOWN for a staff number that is no active RM; RM_OTHER_BRANCH outside the customer's branch."""
    if manager is None:
        return RM_UNKNOWN
    if branch_id is not None and manager.branch_id != branch_id:
        return RM_OTHER_BRANCH
    return None


def relationship_manager_user_violation(user_id: int, *, branch_id: int | None) -> str | None:
    """The same rule for an RM given as a user id (a page form, a bulk assignment)."""
    row = (User.objects.filter(pk=user_id, is_active=True, groups__name=Role.RELATIONSHIP_MANAGER)
           .values_list("pk", "branch_id").first())
    manager = EligibleManager(user_id=row[0], branch_id=row[1]) if row else None
    return relationship_manager_violation(manager, branch_id=branch_id)


# --- Credit score and grade --------------------------------------------------------------------


def credit_grade_policy_latest() -> CreditGradePolicy | None:
    return CreditGradePolicy.objects.order_by("-version").first()


def credit_grade_derive(values: dict, *, policy: CreditGradePolicy | None) -> None:
    """Set the grade from the numeric score (when a score is given and no grade), stamping the policy.

    The grade bands are policy data (CreditGradePolicy), so a score is never typed twice as a
    grade; a grade given on its own (no score) is kept as given.
    """
    if "credit_score" not in values or values.get("credit_rating") or policy is None:
        return
    score = values["credit_score"]
    values["credit_rating"] = policy.grade_for(score) if score is not None else ""
    values["credit_grade_policy"] = policy.pk if score is not None else None


def credit_grade_bands_check(bands) -> bool:
    """Whether bands are [lowest, highest, grade] rows covering 300-850 without gap or overlap."""
    from customers.models import CreditRating

    try:
        rows = sorted((int(lowest), int(highest), str(grade)) for lowest, highest, grade in bands)
    except (TypeError, ValueError):
        return False
    expected_low = CREDIT_SCORE_MIN
    for lowest, highest, grade in rows:
        if lowest != expected_low or highest < lowest or grade not in CreditRating.values:
            return False
        expected_low = highest + 1
    return expected_low == CREDIT_SCORE_MAX + 1


# --- Custom attributes -------------------------------------------------------------------------


def custom_attribute_column(attribute) -> str:
    """The column of CustomerAttributeValue holding this attribute's values."""
    return {"number": "value_number", "date": "value_date"}.get(attribute.type, "value_text")


def custom_attribute_parse(attribute, raw: str):
    """A typed value of the attribute from text (ISO date, decimal number, a declared choice), or None."""
    from decimal import Decimal, InvalidOperation

    text = (raw or "").strip()
    if attribute.type == "number":
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() and abs(number) < Decimal(10) ** 16 else None
    if attribute.type == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    if attribute.type == "choice":
        return text if text in (attribute.choices or []) else None
    return text[:200] if text else None
