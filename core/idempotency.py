"""Idempotent POSTs: the ``Idempotency-Key`` header, as Stripe and the IETF draft describe it.

A client that retries a POST (timeout, lost connection) sends the same ``Idempotency-Key``:

- same key, same request (method, path, body) → the stored response again, with the header
  ``Idempotent-Replayed: true``; the work is not done twice;
- same key, another request → 422 ``idempotency_key_reused``;
- same key while the first request is still running → 409 ``idempotency_in_flight``.

The record is inserted in its own short transaction before the work starts (INSERT ... ON CONFLICT
DO NOTHING), so a concurrent duplicate sees it. When the view raises, the record is deleted so a
retry can run; returned responses (2xx-4xx) are stored and replayed. Precondition: the view does not
run inside an outer transaction (no ATOMIC_REQUESTS), or the record would commit with the work.

Records expire after RECORD_TTL (24 h): an expired record is replaced on the next use of its key,
and ``idempotency_records_purge`` deletes old rows (hourly, core.tasks.idempotency_records_purge_task
from the beat schedule in crm_project/celery.py). A record
left in flight by a crashed process is treated as abandoned after IN_FLIGHT_TIMEOUT. Work that
committed before such a crash is not replayed, so writes also rely on unique external references.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.db import connection, transaction
from django.http.request import RawPostDataException
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import IDEMPOTENCY_HEADER
from core.models import IdempotencyRecord
from core.throttling import request_principal

HEADER = IDEMPOTENCY_HEADER
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
RECORD_TTL = timedelta(hours=24)
IN_FLIGHT_TIMEOUT = timedelta(minutes=10)

class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for a different request."
    default_code = "idempotency_key_reused"


class IdempotencyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed; retry later."
    default_code = "idempotency_in_flight"


def idempotent(handler):
    """Make a DRF POST handler (method of an APIView, or an @api_view function) honour Idempotency-Key.

    On an APIView's ``post`` the schema also documents the header and the 409/422 responses.
    Precondition: the response holds no unmasked PII or secrets; it is stored in plain JSONB for 24 h
    and replayed without an audit row (customers.api masks PII in responses to writes).
    """

    @functools.wraps(handler)
    def wrapper(*args, **kwargs):
        request = args[0] if isinstance(args[0], Request) else args[1]
        raw_key = request.headers.get(HEADER)
        principal = request_principal(request.user)
        if raw_key is None or principal is None:
            return handler(*args, **kwargs)
        key = _validated_key(raw_key)
        fingerprint = _request_fingerprint(request)
        record = _record_begin(principal=principal, key=key, fingerprint=fingerprint)
        if record is not None:
            return _replay_or_refuse(record, fingerprint)
        try:
            response = handler(*args, **kwargs)
        except BaseException:
            _record_discard(principal=principal, key=key)
            raise
        if response.status_code >= 500 or not isinstance(response, Response):
            _record_discard(principal=principal, key=key)
            return response
        _record_complete(principal=principal, key=key, response=response)
        return response

    wrapper.idempotent = True  # core.api.AutoSchema documents the header and the 409/422 responses
    return wrapper


def idempotency_records_purge(*, older_than: timedelta = RECORD_TTL) -> int:
    """Delete idempotency records older than ``older_than``; return how many went."""
    deleted_count, _by_model = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted_count


def _validated_key(raw_key: str) -> str:
    key = raw_key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise ValidationError(
            {HEADER: [_("Send 1 to %(max)d printable ASCII characters.") % {"max": MAX_KEY_LENGTH}]}
        )
    return key


def _request_fingerprint(request: Request) -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(b"\n")
    digest.update(request.get_full_path().encode())
    digest.update(b"\n")
    try:
        body = request.body  # may raise RequestDataTooBig: the exception handler makes it a 413
    except RawPostDataException:
        # Something (a permission class, say) parsed the body first; the parsed data stands in for it.
        body = JSONRenderer().render(request.data)
    digest.update(body)
    return digest.hexdigest()


def _record_begin(*, principal: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """Claim the key for this request; return the existing record when someone already holds it."""
    now = timezone.now()
    table = IdempotencyRecord._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # An expired record, or one abandoned in flight by a crashed process, frees its key.
        cursor.execute(
            f"DELETE FROM {table} WHERE principal = %s AND key = %s"  # noqa: S608 (table name is ours)
            " AND (created_at < %s OR (completed_at IS NULL AND created_at < %s))",
            [principal, key, now - RECORD_TTL, now - IN_FLIGHT_TIMEOUT],
        )
        cursor.execute(
            f"INSERT INTO {table} (principal, key, request_fingerprint, created_at)"  # noqa: S608
            " VALUES (%s, %s, %s, %s) ON CONFLICT (principal, key) DO NOTHING RETURNING id",
            [principal, key, fingerprint, now],
        )
        if cursor.fetchone() is not None:
            return None
    existing = IdempotencyRecord.objects.filter(principal=principal, key=key).first()
    if existing is None:
        # The holder failed and discarded its record between our INSERT and this read.
        raise IdempotencyInFlight()
    return existing


def _replay_or_refuse(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.completed_at is None:
        raise IdempotencyInFlight()
    response = Response(record.response_body, status=record.status_code)
    response[REPLAYED_HEADER] = "true"
    return response


def _record_complete(*, principal: str, key: str, response: Response) -> None:
    # Store the body as the JSON renderer writes it, so a replay is byte-for-byte the same data.
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    IdempotencyRecord.objects.filter(principal=principal, key=key, completed_at__isnull=True).update(
        status_code=response.status_code, response_body=body, completed_at=timezone.now()
    )


def _record_discard(*, principal: str, key: str) -> None:
    IdempotencyRecord.objects.filter(principal=principal, key=key, completed_at__isnull=True).delete()
