"""Suggest the customer behind an unidentified complaint: the contact phone's blind index, and the
ID number's when the complainant gave one. The desk confirms a suggestion with one click
(ComplaintConfirmMatchView → services.complaint_link_customer, audited with the basis)."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from accounts.models import User
from complaints.models import Complaint
from core import crypto
from customers import selectors as customer_selectors
from customers.models import Customer

# More candidates than this is no suggestion: the desk searches by hand.
SUGGESTIONS_MAX = 3
BASIS_LABELS = {
    "phone+id_number": _("phone and ID number match"),
    "id_number": _("ID number matches"),
    "phone": _("phone matches"),
}


@dataclass(frozen=True)
class MatchSuggestion:
    customer: Customer
    basis: str

    @property
    def basis_label(self) -> str:
        return str(BASIS_LABELS[self.basis])


def complaint_match_suggestions(*, complaint: Complaint, user: User) -> list[MatchSuggestion]:
    """Customers the user may see whose phone (and/or ID number) matches the complainant's, best first.

    Both matching outranks one; nothing is suggested for a linked complaint or when too many match.
    """
    if complaint.customer_id is not None:
        return []
    phone_bidx = crypto.blind_index(kind="phone", value=complaint.contact_phone) if complaint.contact_phone else None
    id_bidx = complaint.contact_id_number_bidx or None
    if not phone_bidx and not id_bidx:
        return []
    visible = customer_selectors.customer_list_visible_to(user=user)
    candidates: dict[int, tuple[Customer, set[str]]] = {}
    for field, value in (("phone_bidx", phone_bidx), ("id_number_bidx", id_bidx)):
        if not value:
            continue
        for customer in visible.filter(**{field: value})[:SUGGESTIONS_MAX + 1]:
            candidates.setdefault(customer.pk, (customer, set()))[1].add(field)
    suggestions = []
    for customer, fields in candidates.values():
        basis = ("phone+id_number" if len(fields) == 2 else "id_number" if "id_number_bidx" in fields else "phone")
        suggestions.append(MatchSuggestion(customer=customer, basis=basis))
    suggestions.sort(key=lambda s: (list(BASIS_LABELS).index(s.basis), s.customer.pk))
    if id_bidx and suggestions and suggestions[0].basis != "phone":
        suggestions = [s for s in suggestions if s.basis != "phone"]  # an ID match beats phone-only ones
    return suggestions if len(suggestions) <= SUGGESTIONS_MAX else []
