"""Consent per purpose (data processing, marketing) and channel (SMS, phone, email, app), PIPL-style.

Each (customer, purpose, channel) has one current ``Consent`` row and a ``ConsentChange`` row for
every giving or withdrawal, with when and how. Withdrawing is the same one step as giving.
Marketing lists (recommendations to contact) take only customers with marketing consent on a
channel: ``marketing_contactable_customer_ids`` / ``consent_marketing_channels_for``.

The former single fields on Customer (``consent_data_processing``, ``consent_marketing``,
``consent_channel``) were carried over by migration customers 0011. Other bank systems still send
them (the API's customer fields, an import mapping): whatever they report is recorded per channel
by ``consent_record_reported`` in the same transaction (method "reported", history kept), so the
per-channel consent is the one truth marketing lists read. ``consent_backfill_from_legacy`` copies
the fields over for customers that have no per-channel consent yet (seed_demo calls it).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from accounts.models import User
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from customers.models import (
    Consent,
    ConsentChange,
    ConsentMethod,
    ConsentPurpose,
    ConsentState,
    ContactChannel,
    Customer,
)

AUDIT_CONSENT_SET = "customers.consent_set"

# One row per purpose and channel for each customer whose legacy field says given / withdrawn.
LEGACY_BACKFILL_SQL = """
WITH legacy AS (
    SELECT c.id AS customer_id, p.purpose, p.state,
           coalesce(p.at, c.info_updated_at, c.created_at) AS changed_at
    FROM customers_customer c
    CROSS JOIN LATERAL (VALUES ('data_processing', c.consent_data_processing, c.consent_data_processing_at),
                               ('marketing', c.consent_marketing, c.consent_marketing_at)) AS p(purpose, state, at)
    WHERE p.state IN ('given', 'withdrawn') {scope}
      AND NOT EXISTS (SELECT 1 FROM customers_consent x WHERE x.customer_id = c.id AND x.purpose = p.purpose)
), channels AS (
    SELECT legacy.*, ch.channel FROM legacy CROSS JOIN (VALUES ('sms'), ('phone'), ('email'), ('app')) AS ch(channel)
), changes AS (
    INSERT INTO customers_consentchange (customer_id, purpose, channel, from_state, state, method, changed_at)
    SELECT customer_id, purpose, channel, 'unknown', state, 'migrated', changed_at FROM channels
)
INSERT INTO customers_consent (customer_id, purpose, channel, state, method, changed_at)
SELECT customer_id, purpose, channel, state, 'migrated', changed_at FROM channels
"""


# What a bank system reported for (customer, purpose) becomes the state of every channel that differs.
REPORTED_SQL = """
WITH reported AS (
    SELECT c.id AS customer_id, p.purpose, p.state, coalesce(p.at, now()) AS changed_at
    FROM customers_customer c
    CROSS JOIN LATERAL (VALUES ('data_processing', c.consent_data_processing, c.consent_data_processing_at),
                               ('marketing', c.consent_marketing, c.consent_marketing_at)) AS p(purpose, state, at)
    JOIN unnest(%(customer_ids)s::bigint[], %(purposes)s::text[]) AS w(customer_id, purpose)
      ON w.customer_id = c.id AND w.purpose = p.purpose
    WHERE p.state IN ('given', 'withdrawn')
), wanted AS (
    SELECT r.*, ch.channel, coalesce(x.state, 'unknown') AS from_state
    FROM reported r
    CROSS JOIN (VALUES ('sms'), ('phone'), ('email'), ('app')) AS ch(channel)
    LEFT JOIN customers_consent x
      ON x.customer_id = r.customer_id AND x.purpose = r.purpose AND x.channel = ch.channel
    WHERE x.state IS DISTINCT FROM r.state
), changes AS (
    INSERT INTO customers_consentchange (customer_id, purpose, channel, from_state, state, method, changed_at)
    SELECT customer_id, purpose, channel, from_state, state, %(method)s, changed_at FROM wanted
)
INSERT INTO customers_consent (customer_id, purpose, channel, state, method, changed_at)
SELECT customer_id, purpose, channel, state, %(method)s, changed_at FROM wanted
ON CONFLICT (customer_id, purpose, channel) DO UPDATE
SET state = EXCLUDED.state, method = EXCLUDED.method, changed_at = EXCLUDED.changed_at, recorded_by_id = NULL
"""
LEGACY_FIELD_PURPOSE = {"consent_data_processing": ConsentPurpose.DATA_PROCESSING,
                        "consent_marketing": ConsentPurpose.MARKETING}


def consent_record_reported(*, reported: list[tuple[int, str]]) -> int:
    """Record per channel what bank systems just reported through the legacy fields, as (customer id,
    field name) pairs for the fields they wrote (``consent_marketing`` ...); return consents changed.

    Only the written fields count: a later write of another field never re-gives a consent that staff
    withdrew on one channel since. Call it in the writing transaction, after the write.
    """
    pairs = [(customer_id, LEGACY_FIELD_PURPOSE[name].value) for customer_id, name in reported
             if name in LEGACY_FIELD_PURPOSE]
    if not pairs:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(REPORTED_SQL, {"customer_ids": [pair[0] for pair in pairs],
                                      "purposes": [pair[1] for pair in pairs],
                                      "method": ConsentMethod.REPORTED.value})
        return cursor.rowcount


def consent_backfill_from_legacy(*, customer_ids: list[int] | None = None) -> int:
    """Copy the legacy single consent fields into per-channel consent where none is recorded yet."""
    scope = "AND c.id = ANY(%(customer_ids)s)" if customer_ids is not None else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LEGACY_BACKFILL_SQL.format(scope=scope), {"customer_ids": customer_ids})
        return cursor.rowcount


def consent_matrix_for(*, customer: Customer) -> list[dict]:
    """Every purpose x channel with its current consent (or None when never recorded), in page order."""
    current = {(c.purpose, c.channel): c for c in Consent.objects.filter(customer=customer)}
    return [
        {"purpose": purpose, "purpose_label": purpose_label,
         "channels": [{"channel": channel, "label": label, "consent": current.get((purpose, channel))}
                      for channel, label in ContactChannel.choices]}
        for purpose, purpose_label in ConsentPurpose.choices
    ]


def consent_history_for(*, customer: Customer) -> QuerySet[ConsentChange]:
    return ConsentChange.objects.filter(customer=customer).select_related("recorded_by")


def consent_marketing_channels_for(*, customer: Customer) -> list[str]:
    """The channels the customer lets the bank market on (marketing consent given)."""
    return list(Consent.objects.filter(customer=customer, purpose=ConsentPurpose.MARKETING,
                                       state=ConsentState.GIVEN).values_list("channel", flat=True))


def marketing_channels_by_customer(*, customer_ids: list[int]) -> dict[int, list[str]]:
    """customer id -> the channels with marketing consent given, in one query."""
    channels: dict[int, list[str]] = {}
    for customer_id, channel in (Consent.objects.filter(customer_id__in=customer_ids,
                                                        purpose=ConsentPurpose.MARKETING, state=ConsentState.GIVEN)
                                 .order_by("customer_id", "channel").values_list("customer_id", "channel")):
        channels.setdefault(customer_id, []).append(channel)
    return channels


def marketing_consent_q(*, customer_ref: str = "pk", channel: str | None = None) -> Exists:
    """A filter expression: the customer (``customer_ref`` in the outer query) has marketing consent."""
    consents = Consent.objects.filter(customer_id=OuterRef(customer_ref), purpose=ConsentPurpose.MARKETING,
                                      state=ConsentState.GIVEN)
    if channel:
        consents = consents.filter(channel=channel)
    return Exists(consents)


@transaction.atomic
def consent_set(*, customer: Customer, purpose: str, channel: str, state: str, method: str, by: User) -> Consent:
    """Give or withdraw one consent (purpose x channel), with how; history kept, audited.

    The caller has fetched ``customer`` through the scoped selector for ``by``.
    """
    if not permissions.can_manage_consent(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if purpose not in ConsentPurpose.values:
        raise ApplicationError.invalid(_("Choose a purpose."), field="purpose")
    if channel not in ContactChannel.values:
        raise ApplicationError.invalid(_("Choose a channel."), field="channel")
    if state not in (ConsentState.GIVEN, ConsentState.WITHDRAWN):
        raise ApplicationError.invalid(_("Consent is either given or withdrawn."), field="state")
    if method not in ConsentMethod.values or method == ConsentMethod.MIGRATED:
        raise ApplicationError.invalid(_("Say how the customer gave or withdrew consent."), field="method")
    now = timezone.now()
    consent = (Consent.objects.select_for_update()
               .filter(customer=customer, purpose=purpose, channel=channel).first())
    from_state = consent.state if consent is not None else ConsentState.UNKNOWN
    if consent is None:
        consent = Consent(customer=customer, purpose=purpose, channel=channel)
    consent.state, consent.method, consent.changed_at, consent.recorded_by = state, method, now, by
    consent.save()
    ConsentChange.objects.create(customer=customer, purpose=purpose, channel=channel, from_state=from_state,
                                 state=state, method=method, changed_at=now, recorded_by=by)
    audit_record(actor=by, action=AUDIT_CONSENT_SET, target=customer,
                 detail={"purpose": purpose, "channel": channel, "from": from_state, "to": state, "method": method})
    return consent
