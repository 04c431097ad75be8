"""Logs carry ids, never PII: not on search, reveal, a rejected form or the data-quality pass."""

import logging

import pytest
from django.urls import reverse

from customers import services
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PHONE = "13812345678"


def test_no_log_record_contains_the_phone_or_id_number(client_as, caplog):
    # given an RM's customer with a bad phone (so the data-quality pass reports it)
    client = client_as("rm")
    customer = CustomerFactory(phone=PHONE, branch=client.user.branch, relationship_manager=client.user)
    id_number = customer.id_number
    caplog.set_level(logging.DEBUG)

    # when the RM searches by phone, reveals it, reveals the ID number, and sends an invalid form
    list_url = reverse("customers:customer-list")
    assert client.post(list_url, {"phone": PHONE}).status_code == 200
    for field in ("phone", "id_number"):
        url = reverse("customers:customer-reveal", args=[customer.pk, field])
        assert client.post(url, headers={"HX-Request": "true"}).status_code == 200
    form_url = reverse("customers:interaction-create", args=[customer.pk])
    assert client.post(form_url, {"summary": PHONE, "kind": "bogus"}).status_code == 200
    # and the data-quality pass runs
    services.data_quality_run()

    # then something was logged, but no record holds the phone or the ID number
    assert caplog.records
    assert PHONE not in caplog.text
    assert id_number not in caplog.text
    assert PHONE not in str([record.args for record in caplog.records])
