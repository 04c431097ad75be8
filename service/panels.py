"""The service panel on the customer 360 page, registered into customers.panels from apps.py."""

from django.utils import timezone

from accounts import permissions
from service import selectors

RECORDS_SHOWN = 5
RESPONSES_SHOWN = 5
FOLLOW_UPS_SHOWN = 10


def service_customer_panel(*, request, customer) -> dict | None:
    """Recent services, survey answers and open follow-ups of a customer the page already fetched scoped."""
    user = request.user
    if not permissions.can_view_customers(user):
        return None
    return {
        "show": True,
        "service_records": list(selectors.service_record_list_for(customer=customer)[:RECORDS_SHOWN]),
        "shown": RECORDS_SHOWN,
        "responses_shown": RESPONSES_SHOWN,
        "survey_responses": list(selectors.survey_response_list_for(customer=customer)[:RESPONSES_SHOWN]),
        "follow_ups": list(selectors.follow_up_list_for(customer=customer)[:FOLLOW_UPS_SHOWN]),
        "today": timezone.localdate(),
        "can_record_service": permissions.can_record_service(user),
        "can_work_follow_ups": permissions.can_work_follow_ups(user),
    }
