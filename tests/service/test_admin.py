"""Admin of the service chapter: standards change only through the audited service; the outbox hides links."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from service import services
from service.models import OutboundMessage, Touchpoint
from tests.customers.factories import CustomerFactory
from tests.service.factories import touchpoint

pytestmark = pytest.mark.django_db


def form_data(item: Touchpoint, **overrides) -> dict:
    data = {"code": item.code, "name": item.name, "name_zh": item.name_zh, "sop_steps": "\n".join(item.sop_steps),
            "sop_steps_zh": "\n".join(item.sop_steps_zh),
            "target_minutes": item.target_minutes, "owner_role": item.owner_role,
            "is_active": "on" if item.is_active else "", "position": item.position}
    return {**data, **overrides}


def test_touchpoint_changelist_edits_nothing_in_place(client_as):
    """No list_editable: the target time cannot be changed from the list, past the audit."""
    client = client_as("admin", is_staff=True)
    consultation = touchpoint("consultation")

    page = client.get(reverse("admin:service_touchpoint_changelist"))
    assert page.status_code == 200
    assert b'name="form-0-target_minutes"' not in page.content

    client.post(reverse("admin:service_touchpoint_changelist"), {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": consultation.pk,
        "form-0-target_minutes": "99", "form-0-is_active": "on", "_save": "Save",
    })
    assert touchpoint("consultation").target_minutes == 15
    assert not AuditEvent.objects.filter(action=services.TOUCHPOINT_UPDATE_ACTION).exists()


def test_touchpoint_change_form_saves_through_the_audited_service(client_as):
    client = client_as("admin", is_staff=True)
    consultation = touchpoint("consultation")

    response = client.post(reverse("admin:service_touchpoint_change", args=[consultation.pk]),
                           form_data(consultation, target_minutes=25))

    assert response.status_code == 302
    assert touchpoint("consultation").target_minutes == 25
    event = AuditEvent.objects.get(action=services.TOUCHPOINT_UPDATE_ACTION)
    assert event.actor_id == client.user.pk and event.target_id == str(consultation.pk)
    assert event.detail == {"changes": {"target_minutes": {"from": 15, "to": 25}}}


def test_touchpoint_add_form_is_audited_too(client_as):
    client = client_as("admin", is_staff=True)
    data = {"code": "safe_deposit", "name": "Safe deposit box", "sop_steps": "Verify identity\nOpen the box",
            "target_minutes": 20, "owner_role": "relationship_manager", "is_active": "on", "position": 9}

    response = client.post(reverse("admin:service_touchpoint_add"), data)

    assert response.status_code == 302
    created = Touchpoint.objects.get(code="safe_deposit")
    assert created.sop_steps == ["Verify identity", "Open the box"] and created.target_minutes == 20
    event = AuditEvent.objects.get(action=services.TOUCHPOINT_CREATE_ACTION)
    assert event.target_id == str(created.pk) and event.detail["values"]["target_minutes"] == 20


def test_outbox_admin_shows_the_redacted_body_only(client_as, branch):
    """The admin reads "[link]"; neither the token nor the encrypted link column is on the page."""
    customer = CustomerFactory(branch=branch, phone="13812345678")
    invitation = services.survey_send(customer=customer, trigger="service", reference="1")
    message = invitation.messages.get()
    client = client_as("admin", is_staff=True)

    page = client.get(reverse("admin:service_outboundmessage_change", args=[message.pk])).content.decode()
    listing = client.get(reverse("admin:service_outboundmessage_changelist")).content.decode()

    assert OutboundMessage.LINK_PLACEHOLDER in page
    assert invitation.token not in page and invitation.token not in listing
    assert message.link not in page
