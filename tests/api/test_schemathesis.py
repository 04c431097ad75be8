"""Property-based tests against the live OpenAPI schema (schemathesis): for every operation of the
REST API, generated valid and invalid requests never get a 5xx, and every response (status code,
content type, headers, body) conforms to the schema.

The schema is the one /api/schema/ serves (drf-spectacular's generator, built at collection), and
requests go through the Django WSGI application in-process with an API key holding every scope, so
no server or network is involved. Derandomized: the same cases every run.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from accounts.models import Role
from complaints.models import Complaint, ComplaintCategory
from core.api import IDEMPOTENCY_HEADER
from service.models import Touchpoint
from tests.accounts.factories import BranchFactory, UserFactory
from tests.complaints.factories import make_complaint
from tests.customers.factories import CustomerFactory, HoldingFactory, InteractionFactory, ProductFactory
from tests.service.factories import ServiceRecordFactory, SurveyResponseFactory

EXAMPLES_PER_OPERATION = 100
# Inputs whose validity depends on stored data or on other fields, which a schema cannot say: a
# branch code that exists, an ID number's check digit, a closing date that goes with the status...
BUSINESS_RULE_FIELDS = {
    "branch", "relationship_manager", "phone", "id_number", "birth_date", "customer_since", "closed_on",
    "name", "summary", "occurred_at", "next_step", "next_step_due_on", "external_ref", "opened_on",
    "email",  # Django's address check is stricter than the schema's "email" format
    # Complaints: a walk-in needs a name, a resolve a resolution; codes and ids must exist.
    "contact_name", "contact_phone", "resolution", "root_cause", "category", "product", "customer_id", "received_at",
    # Service records: the customer, touchpoint and staff must exist; the end follows the start. Times
    # must fall on local dates in 2000-2100, which a time with an offset makes impossible to pattern.
    "customer_number", "touchpoint", "staff_username", "started_at", "ended_at", "steps_completed",
    # A page cursor is opaque (core.api.pagination): valid only as the server issued it, which no
    # pattern can say; the schema gives its alphabet and length, anything else is refused as shape.
    "cursor",
}
# PostgreSQL text cannot hold NUL; DRF refuses it in any string, which JSON Schema cannot express.
NUL_REFUSED = "Null characters are not allowed."
# Strings are trimmed (DRF's default, documented in the API description): a value of only
# whitespace is blank. JSON Schema's minLength counts the whitespace; its \s and Python's differ.
BLANK_REFUSED = "This field may not be blank."
FRESH_KEY_NUMBERS = itertools.count(1)


def _only_whitespace(case, name: str) -> bool:
    for values in (case.body, case.query):
        value = values.get(name) if isinstance(values, dict) else None
        if isinstance(value, str) and value.strip() == "":
            return True
    return False


def schema_valid_data_fails_only_business_rules(ctx, response, case):
    """Replaces schemathesis' positive_data_acceptance: a schema-valid request may be refused with
    400 only for a business rule (BUSINESS_RULE_FIELDS), never for its shape."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 400:
        return None
    fields = response.json()["error"]["fields"]
    shape_errors = {
        name for name, problems in fields.items()
        if name not in BUSINESS_RULE_FIELDS and not all(NUL_REFUSED in str(problem) for problem in problems)
        and not (_only_whitespace(case, name) and all(BLANK_REFUSED in str(problem) for problem in problems))
    }
    assert fields and not shape_errors, f"schema-valid input refused: {response.json()}"
    return None


raw_schema = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(raw_schema)
schema.app = WSGIHandler()
# A body over its documented limit (more than 10,000 bulk rows) is refused with 413, also a rejection.
rejection = schema.config.checks.negative_data_rejection
rejection.expected_statuses = [*rejection.expected_statuses, "413"]
# Every operation of the API is tested except those listed here (path regexes, one line each with
# the reason). None is excluded.
EXCLUDED_PATHS: list[str] = []
schema = schema.include(path_regex=r"^/api/v1/")
for excluded in EXCLUDED_PATHS:
    schema = schema.exclude(path_regex=excluded)


@pytest.fixture
def _keep_test_connection():
    """The WSGI handler closes the database connection after each request, as in production; the
    test's transaction lives on that connection, so keep it open (as django.test.Client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_headers(make_key, settings, branch, _keep_test_connection):
    """A key with every scope, unthrottled, and a few rows for generated ids and codes to hit."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"principal": None}}
    rm = UserFactory(username="schemathesis_rm", staff_number="S1", branch=branch, roles=[Role.RELATIONSHIP_MANAGER])
    for number in range(3):
        customer = CustomerFactory(external_id=f"{number}", branch=branch, relationship_manager=rm)
        product = ProductFactory(code=f"{number}")
        HoldingFactory(customer=customer, product=product)
        InteractionFactory(customer=customer)
        ServiceRecordFactory(customer=customer, staff=rm)
        SurveyResponseFactory(invitation__customer=customer)
        complaint = make_complaint(customer=customer)
        # A short reference that generated path parameters hit, so detail and transitions run.
        Complaint.objects.filter(pk=complaint.pk).update(reference=f"{number}")
    CustomerFactory(external_id="C000012345", branch=branch, relationship_manager=rm)  # the documented example's
    # Codes that generated strings hit ("0"), so valid-looking writes get past the lookups to the services.
    Touchpoint.objects.create(code="0", name="0", target_minutes=10, owner_role=Role.RELATIONSHIP_MANAGER)
    ComplaintCategory.objects.create(code="0", name="0")
    BranchFactory(code="0", name="0")
    client = make_key()
    return {"Authorization": f"Api-Key {client.raw_key}"}


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, api_headers):
    """No generated request, valid or not, gets a 5xx; every response matches the schema."""
    if case.meta is not None and case.meta.generation.mode.is_positive and IDEMPOTENCY_HEADER in (case.headers or {}):
        # Generated keys repeat ("0"), so most writes would be 422 "key reused" and never reach the view;
        # a fresh valid key per case lets the body through (replays are tested in each app's test_api).
        case.headers[IDEMPOTENCY_HEADER] = f"schemathesis-{next(FRESH_KEY_NUMBERS)}"
    case.call_and_validate(
        headers=api_headers,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[schema_valid_data_fails_only_business_rules],
    )
