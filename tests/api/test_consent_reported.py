"""Consent a bank system reports through the API's legacy fields is recorded per purpose and channel
(customers.consent.consent_record_reported), so marketing lists, which read only per-channel consent,
honour it; a later write of other fields never re-gives what staff withdrew since."""

from __future__ import annotations

from datetime import date

import pytest

from accounts.models import Role
from customers import consent
from customers.models import Consent, ConsentChange, ConsentMethod, ConsentState, Customer
from tests.api.conftest import json_call
from tests.customers.factories import resident_id

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/"
CHANNELS = {"sms", "phone", "email", "app"}


def body(**overrides) -> dict:
    return {"external_id": "C-CONSENT-1", "name": "赵敏", "branch": "B0101", "phone": "13811112222",
            "id_number": resident_id(birth_date=date(1990, 3, 7), sequence=1), "birth_date": "1990-03-07",
            **overrides}


def states(customer: Customer, purpose: str) -> dict[str, str]:
    return dict(Consent.objects.filter(customer=customer, purpose=purpose).values_list("channel", "state"))


def test_reported_consent_is_recorded_on_every_channel_with_its_history(make_key, branch):
    client = make_key(name="core-banking")

    created = json_call(client, "post", URL, body(consent_marketing="given", consent_data_processing="given"))

    assert created.status_code == 201, created.content
    customer = Customer.objects.get(external_id="C-CONSENT-1")
    assert states(customer, "marketing") == dict.fromkeys(CHANNELS, ConsentState.GIVEN)
    assert states(customer, "data_processing") == dict.fromkeys(CHANNELS, ConsentState.GIVEN)
    assert set(Consent.objects.filter(customer=customer).values_list("method", flat=True)) == {ConsentMethod.REPORTED}
    assert customer.pk in consent.marketing_channels_by_customer(customer_ids=[customer.pk])

    # when the system reports a withdrawal
    withdrawn = json_call(client, "patch", f"{URL}{customer.pk}/", {"consent_marketing": "withdrawn"})

    assert withdrawn.status_code == 200, withdrawn.content
    assert states(customer, "marketing") == dict.fromkeys(CHANNELS, ConsentState.WITHDRAWN)
    assert states(customer, "data_processing") == dict.fromkeys(CHANNELS, ConsentState.GIVEN)  # not written
    marketing_history = ConsentChange.objects.filter(customer=customer, purpose="marketing")
    assert set(marketing_history.values_list("from_state", "state")) == {("unknown", "given"), ("given", "withdrawn")}
    assert marketing_history.count() == 8
    assert consent.marketing_channels_by_customer(customer_ids=[customer.pk]) == {}


def test_writing_other_fields_never_regives_what_staff_withdrew(make_key, branch, make_user):
    client = make_key(name="core-banking")
    json_call(client, "post", URL, body(consent_marketing="given"))
    customer = Customer.objects.get(external_id="C-CONSENT-1")
    manager = make_user(Role.BRANCH_MANAGER, username="bm-consent")
    consent.consent_set(customer=customer, purpose="marketing", channel="sms", state=ConsentState.WITHDRAWN,
                        method=ConsentMethod.BRANCH_FORM, by=manager)

    json_call(client, "patch", f"{URL}{customer.pk}/", {"occupation": "教师"})

    assert states(customer, "marketing")["sms"] == ConsentState.WITHDRAWN
    assert set(consent.marketing_channels_by_customer(customer_ids=[customer.pk])[customer.pk]) == CHANNELS - {"sms"}
