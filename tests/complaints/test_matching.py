"""Online complaints suggest their customer by the phone's (and ID number's) blind index; one click links."""

import pytest
from django.urls import reverse

from complaints import matching, services
from core.models import AuditEvent
from tests.complaints.factories import category
from tests.customers.factories import CustomerFactory, resident_id

pytestmark = pytest.mark.django_db


def _submit(branch, *, phone="13912345678", id_number=""):
    return services.complaint_public_submit(branch=branch, category=category(), contact_name="王女士",
                                            contact_phone=phone, description="信用卡年费问题", id_number=id_number)


def test_the_desk_sees_the_suggested_customer_and_links_with_one_click(client_as, branch, customer):
    complaint = _submit(branch)
    desk = client_as("complaint_desk")

    page = desk.get(reverse("complaints:complaint-detail", args=[complaint.reference])).content.decode()
    assert (customer.external_id in page and "phone matches" in page) or "手机号一致" in page

    response = desk.post(reverse("complaints:complaint-confirm-match", args=[complaint.reference]),
                         {"customer_id": customer.pk})

    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.customer == customer
    event = AuditEvent.objects.get(action=services.AUDIT_LINK_CUSTOMER)
    assert event.detail == {"customer_id": customer.pk, "suggested_match": "phone"}


def test_an_id_number_match_outranks_a_phone_only_match(branch, make_user):
    from accounts.models import Role

    birth = CustomerFactory.build().birth_date
    id_number = resident_id(birth_date=birth, sequence=77)
    by_id = CustomerFactory(branch=branch, birth_date=birth, id_number=id_number, phone="13700000001")
    CustomerFactory(branch=branch, phone="13912345678")  # shares the phone only
    complaint = _submit(branch, id_number=id_number)

    suggestions = matching.complaint_match_suggestions(complaint=complaint,
                                                       user=make_user(Role.COMPLAINT_DESK, username="d2"))

    assert [(s.customer, s.basis) for s in suggestions] == [(by_id, "id_number")]
    assert id_number not in str(complaint.contact_id_number_bidx)  # only the blind index is kept


def test_no_suggestion_when_too_many_customers_share_the_phone(branch, make_user):
    from accounts.models import Role

    for _ in range(matching.SUGGESTIONS_MAX + 1):
        CustomerFactory(branch=branch, phone="13912345678")
    complaint = _submit(branch)
    assert matching.complaint_match_suggestions(
        complaint=complaint, user=make_user(Role.COMPLAINT_DESK, username="d3")) == []


def test_confirming_a_customer_that_was_not_suggested_links_nothing(client_as, branch, customer):
    other = CustomerFactory(branch=branch, phone="13800000000")
    complaint = _submit(branch)
    response = client_as("complaint_desk").post(
        reverse("complaints:complaint-confirm-match", args=[complaint.reference]), {"customer_id": other.pk})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.customer is None


@pytest.mark.parametrize("role", ["rm", "auditor"])
def test_only_the_desk_confirms(client_as, branch, customer, role):
    complaint = _submit(branch)
    response = client_as(role).post(reverse("complaints:complaint-confirm-match", args=[complaint.reference]),
                                    {"customer_id": customer.pk})
    assert response.status_code in (403, 404)
    complaint.refresh_from_db()
    assert complaint.customer is None


def test_public_form_takes_an_optional_id_number(client, branch, customer):
    response = client.post(reverse("complaints-public:create"), {
        "contact_name": "王女士", "contact_phone": "13912345678", "id_number": customer.id_number,
        "branch": branch.pk, "category": category().pk, "description": "信用卡年费问题"})
    assert response.status_code == 302
    from complaints.models import Complaint

    complaint = Complaint.objects.get()
    assert complaint.contact_id_number_bidx and complaint.contact_id_number_bidx != customer.id_number
