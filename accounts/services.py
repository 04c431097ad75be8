"""Writes for accounts: each use case is one atomic, audited function (STYLE.md §1, §11)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.apps import apps
from django.contrib.auth.models import AnonymousUser, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.utils import get_user_obj_perms_model

from accounts import permissions
from accounts.models import (
    ApiKey,
    ApiScope,
    Branch,
    Delegation,
    DelegationReason,
    DelegationStatus,
    RecordShare,
    SharedRecordPermissionBase,
    User,
)
from core.audit import audit_record
from core.errors import ApplicationError, ErrorCode
from core.security_events import SecurityEventKind, security_event_record

AUDIT_DELEGATION_CREATE = "accounts.delegation_create"
AUDIT_DELEGATION_REVOKE = "accounts.delegation_revoke"
AUDIT_RECORD_SHARE_CREATE = "accounts.record_share_create"
AUDIT_RECORD_SHARE_REVOKE = "accounts.record_share_revoke"
AUDIT_API_KEY_CREATE = "accounts.api_key_create"
AUDIT_API_KEY_REVOKE = "accounts.api_key_revoke"
AUDIT_API_KEY_REJECTED = "auth.api_key_rejected"

API_KEY_SECRET_BYTES = 32
# Writing last_used_at on every call would turn each read into a write; once a minute is enough.
API_KEY_LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def delegation_create(
    *,
    delegator: User,
    delegate: User,
    starts_on: date,
    ends_on: date,
    reason: str,
    note: str = "",
    by: User,
) -> Delegation:
    """Let ``delegate`` act for ``delegator``'s customers from ``starts_on`` to ``ends_on`` inclusive."""
    if not permissions.can_create_delegation(by, delegator=delegator):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if not permissions.is_relationship_manager(delegator):
        raise ApplicationError.invalid(_("Only relationship managers can delegate their customers."))
    if delegate.pk == delegator.pk:
        raise ApplicationError.invalid(_("Choose another relationship manager as your backup."), field="delegate")
    if not permissions.is_relationship_manager(delegate):
        raise ApplicationError.invalid(_("The backup must be an active relationship manager."), field="delegate")
    if delegator.branch_id is None or delegate.branch_id != delegator.branch_id:
        raise ApplicationError.invalid(_("The backup must work at the same branch."), field="delegate")
    if reason not in DelegationReason.values:
        raise ApplicationError.invalid(_("Choose a reason from the list."), field="reason")
    if ends_on < starts_on:
        raise ApplicationError.invalid(_("The last day cannot be before the first day."), field="ends_on")
    if starts_on < timezone.localdate():
        raise ApplicationError.invalid(_("A delegation cannot start in the past."), field="starts_on")
    if (ends_on - starts_on).days + 1 > Delegation.MAX_DAYS:
        raise ApplicationError.invalid(
            _("A delegation can last at most %(days)d days.") % {"days": Delegation.MAX_DAYS}, field="ends_on"
        )

    # Lock both RMs (in id order, so two requests cannot deadlock) so the overlap checks below
    # cannot race with a concurrent create for the same people.
    list(User.objects.select_for_update().filter(pk__in=[delegator.pk, delegate.pk]).order_by("pk"))
    open_delegations = Delegation.objects.not_revoked().overlapping(starts_on=starts_on, ends_on=ends_on)
    if open_delegations.filter(delegator=delegator).exists():
        raise ApplicationError.invalid(_("You already have a delegation covering some of these days; revoke it first."))
    if open_delegations.filter(delegator=delegate).exists():
        # A backup who is away themselves would leave the customers without anyone.
        raise ApplicationError.invalid(
            _("The backup is away on some of these days; choose someone else."), field="delegate"
        )

    delegation = Delegation.objects.create(
        delegator=delegator,
        delegate=delegate,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        note=note,
        created_by=by,
    )
    audit_record(
        actor=by,
        action=AUDIT_DELEGATION_CREATE,
        target=delegation,
        detail={
            "delegator_id": delegator.pk,
            "delegate_id": delegate.pk,
            "starts_on": starts_on.isoformat(),
            "ends_on": ends_on.isoformat(),
            "reason": reason,
        },
    )
    return delegation


@transaction.atomic
def delegation_revoke(*, delegation: Delegation, by: User) -> Delegation:
    """End a scheduled or active delegation now; the backup loses access at once."""
    delegation = Delegation.objects.select_for_update().get(pk=delegation.pk)
    if not permissions.can_revoke_delegation(by, delegation):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    status = delegation.status_on(timezone.localdate())
    if status == DelegationStatus.REVOKED:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This delegation was already revoked."))
    if status == DelegationStatus.EXPIRED:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This delegation has already ended."))

    delegation.revoked_at = timezone.now()
    delegation.revoked_by = by
    delegation.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        actor=by,
        action=AUDIT_DELEGATION_REVOKE,
        target=delegation,
        detail={"previous_status": status.value},
    )
    return delegation



# --- Record sharing (issue 10, point 8) -----------------------------------------------------


def _share_permission_model(record_type: type[models.Model]) -> type[SharedRecordPermissionBase]:
    """The record's guardian direct-FK user table, found the way guardian finds it."""
    permission_model = get_user_obj_perms_model(record_type)
    if not issubclass(permission_model, SharedRecordPermissionBase):
        raise ImproperlyConfigured(f"{record_type._meta.label} has no share permission table")
    return permission_model


def _view_permission(record: models.Model) -> Permission:
    content_type = ContentType.objects.get_for_model(record)
    return Permission.objects.get(content_type=content_type, codename=f"view_{content_type.model}")


@transaction.atomic
def record_share_create(
    *,
    record: models.Model,
    shared_with: User,
    reason: str,
    ends_on: date,
    by: User,
    colleague_may_view: Callable[[User], bool],
) -> RecordShare:
    """Let ``shared_with`` see ``record`` (and only it) through its last day ``ends_on``.

    The caller has checked that ``by`` may share this record (``permissions.can_share_*``);
    ``colleague_may_view`` is the page predicate the colleague needs to open such a record. A
    share to a colleague who already has one for this record replaces it.
    """
    reason = (reason or "").strip()
    if shared_with.pk == by.pk:
        raise ApplicationError.invalid(_("You cannot share a record with yourself."), field="shared_with")
    if not shared_with.is_active or not colleague_may_view(shared_with):
        raise ApplicationError.invalid(
            _("Choose an active colleague whose role can open this kind of record."), field="shared_with"
        )
    if not reason:
        raise ApplicationError.invalid(_("Say why you share this record."), field="reason")
    today = timezone.localdate()
    if ends_on < today:
        raise ApplicationError.invalid(_("The last day cannot be in the past."), field="ends_on")
    if (ends_on - today).days + 1 > RecordShare.MAX_DAYS:
        raise ApplicationError.invalid(
            _("A share can last at most %(days)d days.") % {"days": RecordShare.MAX_DAYS}, field="ends_on"
        )

    permission_model = _share_permission_model(type(record))
    # Lock the colleague so two shares of one record to them cannot race past the replace below.
    User.objects.select_for_update().filter(pk=shared_with.pk).first()
    replaced_share_id = None
    previous = (permission_model.objects.select_related("share")
                .filter(user=shared_with, content_object=record).first())
    if previous is not None:
        replaced_share_id = previous.share_id
        if previous.share.revoked_at is None:
            previous.share.revoked_at = timezone.now()
            previous.share.revoked_by = by
            previous.share.save(update_fields=["revoked_at", "revoked_by"])
        previous.delete()

    share = RecordShare.objects.create(
        content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk,
        shared_with=shared_with,
        shared_by=by,
        reason=reason,
        ends_on=ends_on,
    )
    permission_model.objects.create(
        user=shared_with, permission=_view_permission(record), content_object=record, share=share, ends_on=ends_on,
    )
    audit_record(
        actor=by,
        action=AUDIT_RECORD_SHARE_CREATE,
        target=share,
        # The reason stays on the share row: free text may name people, and the audit detail holds ids only.
        detail={
            "record_type": record._meta.label_lower,
            "record_id": record.pk,
            "shared_with_id": shared_with.pk,
            "ends_on": ends_on.isoformat(),
            "replaces_share_id": replaced_share_id,
        },
    )
    return share


@transaction.atomic
def record_share_revoke(*, share: RecordShare, by: User, may_share_record: bool) -> RecordShare:
    """End a share now: the colleague loses the record on their next request.

    ``may_share_record`` is the caller's ``permissions.can_share_*`` answer for ``by`` and the record.
    """
    share = RecordShare.objects.select_for_update().get(pk=share.pk)
    if not permissions.can_revoke_share(by, share, may_share_record=may_share_record):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    if share.revoked_at is not None:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This share was already revoked."))

    share.revoked_at = timezone.now()
    share.revoked_by = by
    share.save(update_fields=["revoked_at", "revoked_by"])
    _share_permission_model(share.content_type.model_class()).objects.filter(share=share).delete()
    audit_record(
        actor=by,
        action=AUDIT_RECORD_SHARE_REVOKE,
        target=share,
        detail={"record_type": share.content_type.app_label + "." + share.content_type.model,
                "record_id": share.object_id, "shared_with_id": share.shared_with_id},
    )
    return share



def record_share_permissions_expired_purge(*, today: date | None = None) -> int:
    """Delete the guardian rows of shares whose last day has passed; return how many.

    The scope already ignores them by date (accounts.scope); the purge keeps guardian's own
    tables (``user.has_perm(perm, obj)``) equal to the shares in force. The share rows stay.
    """
    today = today or timezone.localdate()
    deleted = 0
    for model in apps.get_models():
        if issubclass(model, SharedRecordPermissionBase):
            deleted += model.objects.filter(ends_on__lt=today).delete()[0]
    return deleted


def api_key_hash(raw_key: str) -> str:
    """The stored form of a key: sha256 hex (the key is 32 random bytes, see ApiKey)."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: list[str],
    by: User | None,
    expires_at: datetime | None = None,
    branch: Branch | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored and cannot be shown again.

    ``by`` is None when an operator runs ``manage.py create_api_key`` (audited as "system").
    """
    if by is not None and not permissions.can_manage_api_keys(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    name = name.strip()
    if not name:
        raise ApplicationError.invalid(_("Give the key a name."), field="name")
    if ApiKey.objects.filter(name=name).exists():
        raise ApplicationError.invalid(_("A key with this name already exists."), field="name")
    unknown_scopes = sorted(set(scopes) - set(ApiScope.values))
    if unknown_scopes:
        raise ApplicationError.invalid(
            _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown_scopes)}, field="scopes"
        )
    if not scopes:
        raise ApplicationError.invalid(_("Choose at least one scope."), field="scopes")
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError.invalid(_("The expiry must be in the future."), field="expires_at")

    prefix = secrets.token_hex(ApiKey.PREFIX_LENGTH // 2)
    while ApiKey.objects.filter(prefix=prefix).exists():  # 4 billion prefixes: practically never loops
        prefix = secrets.token_hex(ApiKey.PREFIX_LENGTH // 2)
    raw_key = f"crm_{prefix}_{secrets.token_urlsafe(API_KEY_SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=api_key_hash(raw_key),
        scopes=sorted(set(scopes)),
        branch=branch,
        created_by=by,
        expires_at=expires_at,
    )
    audit_record(
        actor=by,
        action=AUDIT_API_KEY_CREATE,
        target=api_key,
        detail={
            "name": api_key.name,
            "prefix": api_key.prefix,
            "scopes": api_key.scopes,
            "branch_id": api_key.branch_id,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return api_key, raw_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, by: User | None) -> ApiKey:
    """Revoke a key now; the next request with it is refused."""
    if by is not None and not permissions.can_manage_api_keys(by):
        raise ApplicationError(ErrorCode.PERMISSION_DENIED)
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is not None:
        raise ApplicationError(ErrorCode.INVALID_TRANSITION, _("This key was already revoked."))
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(actor=by, action=AUDIT_API_KEY_REVOKE, target=api_key, detail={"name": api_key.name})
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey:
    """Return the usable key ``raw_key`` is, or raise PERMISSION_DENIED and audit the refusal.

    The audit row names the key when it exists (expired, revoked) and never holds the key itself.
    """
    now = timezone.now()
    parts = raw_key.split("_", 2)
    api_key = None
    if len(parts) == 3 and parts[0] == "crm" and len(parts[1]) == ApiKey.PREFIX_LENGTH:
        api_key = ApiKey.objects.filter(prefix=parts[1]).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, api_key_hash(raw_key)):
        _api_key_reject(api_key=None, reason="unknown")
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("Invalid API key."))
    if api_key.revoked_at is not None:
        _api_key_reject(api_key=api_key, reason="revoked")
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("This API key was revoked."))
    if api_key.expires_at is not None and api_key.expires_at <= now:
        _api_key_reject(api_key=api_key, reason="expired")
        raise ApplicationError(ErrorCode.PERMISSION_DENIED, _("This API key has expired."))
    if api_key.last_used_at is None or now - api_key.last_used_at >= API_KEY_LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests write at most once per minute between them.
        ApiKey.objects.filter(pk=api_key.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - API_KEY_LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


class _RejectedKeyActor:
    """Names a known but unusable key in the audit log without making it a principal."""

    def __init__(self, api_key: ApiKey):
        self.audit_label = f"api-key:{api_key.name}"


def _api_key_reject(*, api_key: ApiKey | None, reason: str) -> None:
    if api_key is None:
        # An unknown key names no principal and anyone can send one: counted, not chained.
        security_event_record(kind=SecurityEventKind.API_KEY_UNKNOWN)
        return
    audit_record(
        actor=_RejectedKeyActor(api_key) if api_key else AnonymousUser(),
        action=AUDIT_API_KEY_REJECTED,
        target=api_key,
        detail={"reason": reason},
    )
