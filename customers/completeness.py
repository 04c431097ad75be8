"""The completeness rule (MANUAL 2.2), in one home: the customer's stored completeness score (a column
PostgreSQL computes on every insert and update) and the data-quality pass's "information incomplete"
issues are both built from these conditions.

The key fields (12):
  basic      name, gender (not "unknown"), birth_date (gives the age), occupation,
             phone (the contact detail the bank relies on), id_number
  financial  total_assets, liabilities, annual_income (0 is a value; NULL is missing)
  behaviour  preferred_channel. Transaction frequency and product usage are derived from the
             transaction and holding tables, not collected, so they cannot be missing; a customer
             without recent transactions is a behaviour class (MANUAL 2.1, "churned"), not a defect.
  risk       credit_rating, risk_tolerance
completeness_score = floor(100 * present key fields / 12): 100 only when all are present.

Conditions are SQL on customers_customer's own columns, unqualified (the generated column cannot
name a table alias). Empty encrypted values are stored as '' unencrypted, so presence is visible
without decrypting. Changing a condition changes the generated column's expression: makemigrations
then writes the migration that recomputes every score.
"""

from __future__ import annotations

# Keys are customers.models.DataQualityRule values (this module sits below the models).
COMPLETENESS_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "missing_basic": (
        ("name", "btrim(name) <> ''"),
        ("gender", "gender <> 'unknown'"),
        ("birth_date", "birth_date IS NOT NULL"),
        ("occupation", "btrim(occupation) <> ''"),
        ("phone", "coalesce(phone, '') <> ''"),
        ("id_number", "coalesce(id_number, '') <> ''"),
    ),
    "missing_financial": (
        ("total_assets", "total_assets IS NOT NULL"),
        ("liabilities", "liabilities IS NOT NULL"),
        ("annual_income", "annual_income IS NOT NULL"),
    ),
    "missing_behaviour": (("preferred_channel", "preferred_channel <> ''"),),
    "missing_risk": (
        ("credit_rating", "credit_rating <> ''"),
        ("risk_tolerance", "risk_tolerance <> ''"),
    ),
}
COMPLETENESS_FIELD_COUNT = sum(len(fields) for fields in COMPLETENESS_FIELDS.values())


def completeness_score_sql() -> str:
    """The score as an SQL expression over the customer's columns (integer division: the floor)."""
    present = " + ".join(f"(CASE WHEN {condition} THEN 1 ELSE 0 END)"
                         for fields in COMPLETENESS_FIELDS.values() for _name, condition in fields)
    return f"(({present}) * 100 / {COMPLETENESS_FIELD_COUNT})"
