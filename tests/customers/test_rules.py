"""customers.rules is the one home of the customer rules: the API and the import give the same verdict
on the same row, and core.identifiers is the one phone normaliser and ID-number checker."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from accounts import services as account_services
from accounts.models import ApiScope, Role
from complaints.models import Complaint
from core import crypto, identifiers
from customers import importing, rules, services
from tests.accounts.factories import BranchFactory, UserFactory
from tests.api.conftest import ApiClientWithKey, json_call
from tests.customers.factories import resident_id

pytestmark = pytest.mark.django_db

BIRTH = date(1985, 3, 7)
VALID_ID = resident_id(birth_date=BIRTH)
WRONG_CHECK = VALID_ID[:17] + next(c for c in "0123456789X" if c != VALID_ID[17])
OTHER_BIRTH_ID = resident_id(birth_date=date(1986, 3, 7))


# --- One phone normaliser, one ID checker ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13812345678", "13812345678"),
        ("0086 138 1234 5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("010-6512 3456", "01065123456"),
        ("", ""),
    ],
)
def test_one_phone_normaliser_for_blind_index_rules_and_complaints(raw, expected):
    assert identifiers.phone_normalise(raw) == expected
    assert crypto.normalize(kind="phone", value=raw) == expected
    assert rules.phone_normalise(raw) == expected


def test_complaints_drop_the_0086_prefix_as_the_blind_index_does(branch, user_for_role):
    """A walk-in's "0086 138…" is stored as the 11-digit number, so it matches the customer's phone."""
    from tests.complaints.factories import make_complaint

    complaint = make_complaint(branch=branch, by=user_for_role("complaint_desk"), contact_name="王芳",
                               contact_phone="0086 138 1234 5678")
    assert Complaint.objects.get(pk=complaint.pk).contact_phone == "13812345678"


def test_resident_id_check_character_and_birth_date():
    assert identifiers.resident_id_defect(VALID_ID) is None
    assert identifiers.resident_id_defect(WRONG_CHECK) == identifiers.ID_CHECK_CHARACTER
    assert identifiers.resident_id_defect("110105850307001") == identifiers.ID_SHAPE
    assert identifiers.resident_id_birth_date(VALID_ID) == BIRTH
    assert identifiers.resident_id_normalise(" 11010519491231002x ") == "11010519491231002X"
    assert services.resident_id_check_character("11010519491231002") == "X"


# --- The same verdicts through the API and the import ---------------------------------------------

FIELDS = ("external_id", "name", "branch", "relationship_manager", "phone", "id_number", "birth_date",
          "status", "closed_on", "credit_score")
MAPPING = {"kind": "customers", "date_format": "%Y-%m-%d", "columns": {name: name for name in FIELDS}}


@pytest.fixture
def org(db):
    home = BranchFactory(code="B0101", name="Chaoyang Branch")
    other = BranchFactory(code="B0202", name="Haidian Branch")
    UserFactory(username="rm_ok", staff_number="RM1", branch=home, roles=[Role.RELATIONSHIP_MANAGER])
    UserFactory(username="rm_gone", staff_number="RM2", branch=home, roles=[Role.RELATIONSHIP_MANAGER],
                is_active=False)
    UserFactory(username="desk", staff_number="CD1", branch=home, roles=[Role.COMPLAINT_DESK])
    UserFactory(username="rm_far", staff_number="RM3", branch=other, roles=[Role.RELATIONSHIP_MANAGER])
    return home


VALID = {"name": "王芳", "branch": "B0101", "relationship_manager": "RM1", "phone": "13912345678",
         "id_number": VALID_ID, "birth_date": BIRTH.isoformat(), "status": "active"}
CASES = {
    "valid": ({}, set()),
    "phone-not-mobile": ({"phone": "23912345678"}, {"phone"}),
    "phone-with-0086": ({"phone": "0086 139 1234 5678"}, set()),
    "id-check-character": ({"id_number": WRONG_CHECK}, {"id_number"}),
    "id-birth-date-differs": ({"id_number": OTHER_BIRTH_ID}, {"id_number"}),
    "id-lower-case-x": ({"id_number": "11010519491231002x", "birth_date": "1949-12-31"}, set()),
    "birth-date-2090": ({"birth_date": "2090-01-01", "id_number": ""}, {"birth_date"}),
    "birth-date-1850": ({"birth_date": "1850-01-01", "id_number": ""}, {"birth_date"}),
    "rm-inactive": ({"relationship_manager": "RM2"}, {"relationship_manager"}),
    "rm-complaint-desk": ({"relationship_manager": "CD1"}, {"relationship_manager"}),
    "rm-other-branch": ({"relationship_manager": "RM3"}, {"relationship_manager"}),
    "unknown-branch": ({"branch": "B9999", "relationship_manager": ""}, {"branch"}),
    "closed-without-date": ({"status": "closed"}, {"closed_on"}),
    "active-with-closing-date": ({"closed_on": "2024-01-01"}, {"closed_on"}),
    "credit-score-900": ({"credit_score": 900}, {"credit_score"}),
    "credit-score-720": ({"credit_score": 720}, set()),
}


def _api_verdict(client, external_id: str, row: dict) -> set[str]:
    body = {name: value for name, value in row.items() if value != ""}
    response = json_call(client, "put", f"/api/v1/customers/by-external-id/{external_id}/", body)
    if response.status_code in (200, 201):
        return set()
    assert response.status_code == 400, response.content
    return set(response.json()["error"]["fields"])


def _import_verdict(tmp_path, external_id: str, row: dict) -> set[str]:
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(FIELDS)
        writer.writerow([external_id, *(str(row.get(name, "")) for name in FIELDS[1:])])
    mapping_path = tmp_path / "mapping.json"
    mapping_path.write_text(json.dumps(MAPPING), encoding="utf-8")
    report = io.StringIO()
    with path.open("rb") as source:
        result = services.import_run(source=source, file_name=path.name,
                                     mapping=importing.mapping_load(name_or_path=str(mapping_path)),
                                     bytes_total=path.stat().st_size, by=None, report_stream=report)
    lines = list(csv.DictReader(io.StringIO(report.getvalue().lstrip("\ufeff"))))
    assert (result.rejected == 1) == bool(lines)
    return {line["column"] for line in lines}


@pytest.mark.parametrize("case", list(CASES))
def test_api_and_import_give_the_same_verdict(org, tmp_path, case):
    changes, expected = CASES[case]
    row = {**VALID, **changes}
    api_key, raw_key = account_services.api_key_create(
        name="core-banking", scopes=[ApiScope.CUSTOMERS_READ, ApiScope.CUSTOMERS_WRITE], by=None)
    client = ApiClientWithKey(raw_key, api_key)

    api = _api_verdict(client, "API-1", row)
    imported = _import_verdict(tmp_path, "IMP-1", row)

    assert api == imported == expected
