"""Two-factor sign-in for staff: TOTP (an authenticator app) with one-time recovery codes (django-otp).

Required for the roles in MFA_REQUIRED_ROLES (default: administrator, compliance auditor, branch
manager) and superusers (whenever any role is); optional for everyone else, who may enrol from the
same page. A session is "verified" once a code was accepted (django_otp.login);
``MfaRequiredMiddleware`` sends an unverified staff member who must (or did enrol) to verify or
enrol first. API keys never pass
through here: they authenticate per request in DRF, with no session.
Enrolment, each verification and each failure are audited (never the code or the secret).
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Role, User
from core.audit import audit_record
from core.errors import ApplicationError

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery"
AUDIT_MFA_ENROLLED = "auth.mfa_enrolled"
AUDIT_MFA_VERIFIED = "auth.mfa_verified"
AUDIT_MFA_FAILED = "auth.mfa_failed"


def mfa_required_for(user: User) -> bool:
    """Whether this member of staff must use a second factor (by role; superusers always)."""
    if not user.is_authenticated:
        return False
    required = set(getattr(settings, "MFA_REQUIRED_ROLES", []))
    if user.is_superuser:
        return bool(required)  # whenever two-factor sign-in is enforced at all
    return any(user.has_role(Role(role)) for role in required if role in Role.values)


def mfa_enrolled(user: User) -> bool:
    return any(True for _device in devices_for_user(user, confirmed=True))


def mfa_enrol_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator device to show as a QR / key until a first code confirms it."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_DEVICE_NAME).first()
    return device or TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def mfa_enrol_confirm(*, request, user: User, code: str) -> list[str]:
    """Confirm the authenticator with a first code; return fresh recovery codes (shown once). Audited.

    A wrong code is audited too (committed on its own before the error is raised).
    """
    device = TOTPDevice.objects.filter(user=user, confirmed=False, name=TOTP_DEVICE_NAME).first()
    if device is None or not device.verify_token((code or "").strip()):
        with transaction.atomic():
            audit_record(actor=user, action=AUDIT_MFA_FAILED, detail={"step": "enrol"})
        raise ApplicationError.invalid(_("That code is not right. Enter the 6 digits your app shows now."),
                                       field="code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user=user)
        otp_login(request, device)
        audit_record(actor=user, action=AUDIT_MFA_ENROLLED, detail={"recovery_codes": len(codes)})
    return codes


def mfa_verify(*, request, user: User, code: str) -> None:
    """Accept a code from the authenticator or a recovery code (used up); mark the session verified."""
    code = (code or "").strip().replace(" ", "")
    for device in devices_for_user(user, confirmed=True):
        if code and device.verify_token(code):
            otp_login(request, device)
            with transaction.atomic():
                audit_record(actor=user, action=AUDIT_MFA_VERIFIED,
                             detail={"method": "recovery_code" if isinstance(device, StaticDevice) else "totp"})
            return
    with transaction.atomic():
        audit_record(actor=user, action=AUDIT_MFA_FAILED, detail={"step": "verify"})
    raise ApplicationError.invalid(_("That code is not right, or it was used already."), field="code")


def _recovery_codes_replace(*, user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(user=user, name=RECOVERY_DEVICE_NAME,
                                                          defaults={"confirmed": True})
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes
