"""Login security: lockout, audit of auth events, session key rotation, idle and absolute timeouts."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.urls import reverse

from accounts.middleware import LOGIN_AT_SESSION_KEY
from accounts.models import Role
from core.audit import AuditAction
from core.models import AuditEvent
from tests.accounts.factories import DEFAULT_PASSWORD

LOGIN_URL = reverse("accounts:login")
# A page an RM may open; the session middleware runs on every page alike.
PAGE_URL = reverse("accounts:delegation-list")
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def rm(make_user):
    return make_user(Role.RELATIONSHIP_MANAGER, username="rm_wang")


def log_in(client, username, password):
    return client.post(LOGIN_URL, {"username": username, "password": password})


def main_content(html: str) -> str:
    return html[html.index("<main"):html.index("</main>")]


def is_logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_login_audits_and_starts_session_clock(client, rm):
    """A successful login leaves an auth.login event for the user and stamps the login time."""
    # when
    response = log_in(client, rm.username, DEFAULT_PASSWORD)
    # then
    assert response.status_code == 302 and is_logged_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor_id=rm.pk).count() == 1
    assert isinstance(client.session[LOGIN_AT_SESSION_KEY], int)


def test_login_gives_a_new_session_key(client, rm):
    """Logging in replaces the anonymous session's key (no session fixation); the old key is gone."""
    # given: an anonymous session the visitor (or an attacker who planted it) already holds
    session = client.session
    session["language_hint"] = "zh-hans"
    session.save()
    anonymous_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    # when
    log_in(client, rm.username, DEFAULT_PASSWORD)
    # then
    new_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert new_key != anonymous_key
    assert not SessionStore().exists(anonymous_key)
    assert client.session["language_hint"] == "zh-hans"  # data is carried over, only the key changes


def test_failed_login_audits_without_username(client, rm):
    """A failed login is audited with no actor and no typed username, only whether it was known."""
    # when
    log_in(client, rm.username, "wrong-password")
    log_in(client, "my-password-typed-in-the-wrong-box", "x")
    # then
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert failures.count() == 2
    assert sorted(event.detail["username_known"] for event in failures) == [False, True]
    assert all(event.actor_id is None and event.actor_label == "anonymous" for event in failures)
    assert not any("typed-in-the-wrong-box" in str(event.detail) for event in failures)


def test_logout_is_audited(client, rm):
    """Logging out leaves an auth.logout event."""
    log_in(client, rm.username, DEFAULT_PASSWORD)
    client.post(reverse("accounts:logout"))
    assert not is_logged_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor_id=rm.pk).count() == 1


def test_lockout_after_five_failures_refuses_right_password(client, rm):
    """After AXES_FAILURE_LIMIT failures, even the right password is refused and the lockout audited."""
    # given
    assert settings.AXES_FAILURE_LIMIT == 5
    responses = [log_in(client, rm.username, f"wrong-{attempt}") for attempt in range(5)]
    # when
    response = log_in(client, rm.username, DEFAULT_PASSWORD)
    # then
    assert [r.status_code for r in responses[:4]] == [200] * 4
    assert responses[4].status_code == 429
    assert response.status_code == 429
    assert not is_logged_in(client)
    assert "Login paused" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.LOCKED_OUT).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()


def test_lockout_page_does_not_reveal_whether_account_exists(client, rm):
    """The lockout page reads the same for a real and an unknown username, and shows neither."""
    # when
    for attempt in range(5):
        real = log_in(client, rm.username, f"wrong-{attempt}")
        unknown = log_in(client, "no_such_user", f"wrong-{attempt}")
    # then
    assert real.status_code == unknown.status_code == 429
    real_text, unknown_text = real.content.decode(), unknown.content.decode()
    assert rm.username not in real_text and "no_such_user" not in unknown_text
    assert main_content(real_text) == main_content(unknown_text)
    assert "30 minutes" in real_text


@pytest.fixture
def signed_in(client, rm, time_machine):
    """A client that logged in at 09:00 Beijing time, with the clock frozen."""
    time_machine.move_to(datetime(2030, 3, 11, 9, 0, tzinfo=SHANGHAI), tick=False)
    client.force_login(rm)
    return client


def test_idle_29_minutes_is_fine(signed_in, time_machine):
    """A request after 29 idle minutes is served."""
    time_machine.shift(timedelta(minutes=29))
    assert signed_in.get(PAGE_URL).status_code == 200


def test_idle_31_minutes_expires(signed_in, time_machine, rm):
    """After 31 idle minutes the session ends: logout, audit with reason, message, login with next."""
    # given
    time_machine.shift(timedelta(minutes=31))
    # when
    response = signed_in.get(PAGE_URL)
    # then
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={PAGE_URL}"
    assert not is_logged_in(signed_in)
    expired = AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED)
    assert expired.detail == {"reason": "idle"} and expired.actor_id == rm.pk
    assert not AuditEvent.objects.filter(action=AuditAction.LOGOUT).exists()
    login_page = signed_in.get(response["Location"])
    assert "Your session expired, please log in again" in login_page.content.decode()


def test_activity_resets_the_idle_clock(signed_in, time_machine):
    """Each request restarts the idle period: 25 + 25 minutes with a request between is fine."""
    time_machine.shift(timedelta(minutes=25))
    assert signed_in.get(PAGE_URL).status_code == 200
    time_machine.shift(timedelta(minutes=25))
    assert signed_in.get(PAGE_URL).status_code == 200


def test_absolute_timeout_after_twelve_hours_despite_activity(signed_in, time_machine):
    """Activity every 20 minutes keeps the session up to, but not past, 12 hours after login."""
    # given: a request every 20 minutes for 11 h 40 min
    for _ in range(35):
        time_machine.shift(timedelta(minutes=20))
        assert signed_in.get(PAGE_URL).status_code == 200
    # when: 12 hours after login
    time_machine.shift(timedelta(minutes=20))
    response = signed_in.get(PAGE_URL)
    # then
    assert response.status_code == 302 and not is_logged_in(signed_in)
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).detail == {"reason": "absolute"}


def test_htmx_request_gets_hx_redirect(signed_in, time_machine):
    """An htmx request on an expired session gets HX-Redirect to login, returning to the page it came from."""
    # given
    time_machine.shift(timedelta(minutes=31))
    # when
    response = signed_in.get(
        "/some/fragment/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/accounts/delegations/"}
    )
    # then
    assert response.status_code == 200
    assert "Location" not in response
    assert response["HX-Redirect"] == f"{reverse('accounts:login')}?next=/accounts/delegations/"
    assert not is_logged_in(signed_in)


def test_session_without_login_time_is_ended(signed_in):
    """A session whose age cannot be proven (no login stamp) is ended rather than trusted."""
    # given
    session = signed_in.session
    del session[LOGIN_AT_SESSION_KEY]
    session.save()
    # when
    response = signed_in.get(PAGE_URL)
    # then
    assert response.status_code == 302 and not is_logged_in(signed_in)


def test_anonymous_requests_are_untouched(client):
    """The timeout middleware leaves anonymous visitors alone."""
    assert client.get(LOGIN_URL).status_code == 200
