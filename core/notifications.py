"""One in-app inbox for every chapter: send, read and render staff notifications.

A chapter registers each kind of message once, from ``AppConfig.ready()``:

    notifications.notification_kind_register(
        kind="lifecycle.retention_task",
        message=gettext_lazy("Customer %(customer_number)s is at risk of leaving: a retention task is due %(due)s."),
    )

and sends with ``notification_send(recipient=..., kind=..., params={...}, url=...)``. The message
is rendered when the recipient reads it, in the recipient's language. Params carry ids,
references and figures, never PII (names, ID numbers, phones); a name kept in two languages goes
in as ``name`` and ``name_zh`` (see notification_params).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.i18n import ui_is_chinese
from core.models import Notification

_KINDS: dict[str, Any] = {}


def notification_kind_register(*, kind: str, message) -> None:
    """Name a kind of message and its (lazily translated) text with %(name)s placeholders."""
    _KINDS[kind] = message


def notification_kinds() -> dict[str, Any]:
    return dict(_KINDS)


def notification_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters in the reader's language: for a Chinese reader, a non-empty ``<name>_zh`` replaces
    ``<name>`` (a course title, a KPI name: reference data kept in both languages)."""
    if not ui_is_chinese():
        return params
    return {**params, **{key[:-3]: value for key, value in params.items() if key.endswith("_zh") and value}}


def notification_text(notification: Notification) -> str:
    """The message in the active language; an unknown kind or missing parameter still reads sensibly."""
    message = _KINDS.get(notification.kind)
    if message is None:
        return _("Notification: %(kind)s") % {"kind": notification.kind}
    try:
        return str(message) % notification_params(notification.params)
    except (KeyError, TypeError, ValueError):
        return str(message)


@transaction.atomic
def notification_send(*, recipient, kind: str, params: dict[str, Any] | None = None, url: str = "",
                      dedupe_key: str | None = None) -> Notification | None:
    """Put a message in one inbox; with ``dedupe_key``, a second send to the same person does nothing.

    Returns the new notification, or None when the dedupe key was already used for the recipient.
    """
    if kind not in _KINDS:
        raise ValueError(f"unregistered notification kind {kind!r}")
    recipient_id = getattr(recipient, "pk", recipient)
    if dedupe_key:
        notification, created = Notification.objects.get_or_create(
            recipient_id=recipient_id, dedupe_key=dedupe_key,
            defaults={"kind": kind, "params": params or {}, "url": url},
        )
        return notification if created else None
    return Notification.objects.create(recipient_id=recipient_id, kind=kind, params=params or {}, url=url)


def notification_send_many(*, recipients: Iterable, kind: str, params: dict[str, Any] | None = None, url: str = "",
                           dedupe_key: str | None = None) -> int:
    """Send the same message to several people (e.g. every branch manager of a branch)."""
    return sum(
        notification_send(recipient=recipient, kind=kind, params=params, url=url, dedupe_key=dedupe_key) is not None
        for recipient in recipients
    )


def notification_send_bulk(messages: Iterable[tuple[int, str, dict[str, Any], str, str]]) -> int:
    """Write many messages at once, as ``(recipient_id, kind, params, url, dedupe_key)``; a message whose
    dedupe key the recipient already has is skipped. For jobs that notify many people in one
    transaction (the complaint breach scan); returns how many rows were offered."""
    rows = []
    for recipient_id, kind, params, url, dedupe_key in messages:
        if kind not in _KINDS:
            raise ValueError(f"unregistered notification kind {kind!r}")
        rows.append(Notification(recipient_id=recipient_id, kind=kind, params=params, url=url, dedupe_key=dedupe_key))
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def notification_list_for(*, user):
    """The user's own inbox, newest first (nobody reads another person's inbox)."""
    return Notification.objects.filter(recipient_id=user.pk)


def notification_unread_count(*, user, kind_prefix: str = "") -> int:
    """Unread messages in the user's inbox; with ``kind_prefix`` (e.g. "complaints."), one chapter's only."""
    if not getattr(user, "is_authenticated", False):
        return 0
    unread = Notification.objects.filter(recipient_id=user.pk).unread()
    if kind_prefix:
        unread = unread.filter(kind__startswith=kind_prefix)
    return unread.count()


def notification_mark_read(*, user, notification_ids: Iterable[int] | None = None, url: str | None = None) -> int:
    """Mark the user's own notifications read: those ids, those linking to ``url`` (the page the user
    just opened), or all unread ones when neither is given."""
    unread = Notification.objects.filter(recipient_id=user.pk).unread()
    if notification_ids is not None:
        unread = unread.filter(pk__in=list(notification_ids))
    if url is not None:
        unread = unread.filter(url=url)
    return unread.update(read_at=timezone.now())
