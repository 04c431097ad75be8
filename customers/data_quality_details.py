"""What a data-quality issue says about its defect, in the reader's language.

The pass stores a code and its figures (JSON in ``DataQualityIssue.detail``, never PII), not a
sentence: ``{"code": "missing", "fields": ["phone", "occupation"]}``. This module is the one home
of the codes' texts; the pass (customers.services.data_quality) writes only codes listed here.
Details stored before codes existed are shown as they are.
"""

from __future__ import annotations

import json

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

MISSING = "missing"
NEVER_UPDATED = "never_updated"
STALE = "stale"
ASSETS = "assets"
PHONE_SHAPE = "phone_shape"
ID_SHAPE = "id_shape"
ID_CHECK = "id_check"
ID_BIRTH_DATE = "id_birth_date"

MESSAGES = {
    NEVER_UPDATED: gettext_lazy("never updated"),
    STALE: gettext_lazy("last updated %(date)s, older than %(days)s days"),
    ASSETS: gettext_lazy("declared %(declared)s CNY, open holdings %(held)s CNY, tolerance %(tolerance)s%%"),
    PHONE_SHAPE: gettext_lazy("not an 11-digit mainland mobile number starting 13-19 (%(length)s characters)"),
    ID_SHAPE: gettext_lazy("not an 18-character resident ID number (%(length)s characters)"),
    ID_CHECK: gettext_lazy("check character does not match (GB 11643)"),
    ID_BIRTH_DATE: gettext_lazy("birth date in the ID number differs from the recorded birth date"),
}


def detail_code(code: str, **params) -> str:
    """The stored form of a detail (what the pass writes for the findings it computes in Python)."""
    return json.dumps({"code": code, **params}, ensure_ascii=False, separators=(",", ":"))


def detail_text(detail: str) -> str:
    """The detail as a sentence in the active language; a legacy free-text detail as it is."""
    try:
        data = json.loads(detail)
    except ValueError:
        return detail
    if not isinstance(data, dict) or "code" not in data:
        return detail
    code = data.pop("code")
    if code == MISSING:
        return _("missing: %(fields)s") % {"fields": pgettext("list separator", ", ").join(
            _field_label(name) for name in data.get("fields", []))}
    message = MESSAGES.get(code)
    if message is None:
        return detail
    try:
        return str(message) % data
    except (KeyError, TypeError, ValueError):
        return str(message)


def _field_label(name: str) -> str:
    from customers.models import Customer

    try:
        return str(Customer._meta.get_field(name).verbose_name)
    except FieldDoesNotExist:  # a field renamed since the issue was opened still reads sensibly
        return name
