"""Audit receivers for Django's auth signals and axes' lockout signal, connected in AccountsConfig.ready().

These are framework events we only observe (STYLE.md §10 keeps domain logic out of signals): the
login itself is Django's, the lockout is axes'. Besides auditing, a login starts the session clock
that SessionTimeoutMiddleware reads.
"""

from __future__ import annotations

from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.http import HttpRequest

from accounts.middleware import SESSION_EXPIRING_ATTRIBUTE, session_clock_start
from core.audit import AuditAction, audit_record


def _username_known(username: str | None) -> bool:
    if not username:
        return False
    user_model = get_user_model()
    return user_model._default_manager.filter(**{user_model.USERNAME_FIELD: username}).exists()


def _audit_unauthenticated(action: str, *, username: str | None) -> None:
    audit_record(actor=AnonymousUser(), action=action, detail={"username_known": _username_known(username)})


# Failed logins and lockouts are recorded with no actor (AnonymousUser: actor_id stays empty) and
# only {"username_known": bool}.
# The typed username is not stored: people type their password into the username box, or a
# national ID or phone number, and the audit log is append-only and kept for years, so it must
# not collect secrets or PII. Nor is the matching account made the actor: a failure was made by
# whoever typed, not proven to be the account holder. "username_known" still tells a targeted
# attack on real accounts from typos and spraying; the username itself stays in axes'
# AccessAttempt table, which axes clears after the cool-off and an administrator can reset.


def on_user_logged_in(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        session_clock_start(request.session)
    audit_record(actor=user, action=AuditAction.LOGIN)


def on_user_login_failed(sender, credentials: dict, request: HttpRequest | None = None, **kwargs) -> None:
    username = credentials.get(get_user_model().USERNAME_FIELD)
    _audit_unauthenticated(AuditAction.LOGIN_FAILED, username=username)


def on_user_logged_out(sender, request: HttpRequest | None, user, **kwargs) -> None:
    if request is not None and getattr(request, SESSION_EXPIRING_ATTRIBUTE, False):
        return  # SessionTimeoutMiddleware has recorded auth.session_expired with the reason
    if user is None:
        return  # logging out without a session: nothing happened worth a row
    audit_record(actor=user, action=AuditAction.LOGOUT)


def on_user_locked_out(
    sender, request: HttpRequest | None = None, username: str | None = None, **kwargs
) -> None:
    _audit_unauthenticated(AuditAction.LOCKED_OUT, username=username)


def connect() -> None:
    """Connect the receivers once (dispatch_uid guards against a second ready())."""
    user_logged_in.connect(on_user_logged_in, dispatch_uid="accounts.audit_login")
    user_login_failed.connect(on_user_login_failed, dispatch_uid="accounts.audit_login_failed")
    user_logged_out.connect(on_user_logged_out, dispatch_uid="accounts.audit_logout")
    user_locked_out.connect(on_user_locked_out, dispatch_uid="accounts.audit_locked_out")
