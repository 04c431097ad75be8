"""API keys: created once-shown and hash-only (service, command, admin), authenticated by header,
refused when expired, revoked or unknown, scoped per method, throttled per key, and audited."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey, ApiScope
from core.errors import ApplicationError
from core.models import AuditEvent, SecurityEvent
from tests.accounts.factories import UserFactory
from tests.core import api_test_urls

ME_URL = "/api/v1/me/"


@pytest.fixture
def make_key(db):
    def make(name="core-banking", scopes=("customers:read",), **kwargs):
        return services.api_key_create(name=name, scopes=list(scopes), by=None, **kwargs)

    return make


@pytest.fixture
def admin_client(client, branch):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, branch=branch)
    client.force_login(superuser)
    return client


def auth(raw_key: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Api-Key {raw_key}"}


def test_create_returns_the_key_once_and_stores_only_its_hash(make_key):
    """The plaintext comes back once; the row holds its sha256 and a prefix, never the key."""
    api_key, raw_key = make_key(scopes=["customers:write", "customers:read"])

    assert raw_key.startswith(f"crm_{api_key.prefix}_")
    assert len(api_key.prefix) == 8
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    stored = ApiKey.objects.filter(pk=api_key.pk).values().get()
    assert raw_key not in [str(value) for value in stored.values()]
    assert api_key.scopes == ["customers:read", "customers:write"]
    event = AuditEvent.objects.get(action=services.AUDIT_API_KEY_CREATE)
    assert event.actor_label == "system" and raw_key not in str(event.detail)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"scopes": ["customers:read", "everything:admin"]}, "scopes"),
        ({"scopes": []}, "scopes"),
        ({"name": "  "}, "name"),
    ],
)
def test_create_refuses_bad_input(make_key, kwargs, field):
    """Scopes come from the closed set, at least one; a name is required."""
    with pytest.raises(ApplicationError) as excinfo:
        make_key(**kwargs)
    assert field in excinfo.value.field_errors
    assert not ApiKey.objects.exists()


def test_create_refuses_a_duplicate_name_and_a_past_expiry(make_key):
    make_key(name="call-centre")
    with pytest.raises(ApplicationError):
        make_key(name="call-centre")
    with pytest.raises(ApplicationError):
        make_key(name="mobile", expires_at=timezone.now() - timedelta(minutes=1))
    assert ApiKey.objects.count() == 1


def test_only_admins_create_keys(make_user, branch):
    """A relationship manager cannot mint keys."""
    from accounts.models import Role

    with pytest.raises(ApplicationError):
        services.api_key_create(name="x", scopes=["customers:read"], by=make_user(Role.RELATIONSHIP_MANAGER))
    assert not ApiKey.objects.exists()


def test_command_prints_the_key_once(db, branch):
    """manage.py create_api_key prints only the key on stdout and stores its hash."""
    stdout, stderr = StringIO(), StringIO()
    call_command(
        "create_api_key", "warehouse", "--scopes", "customers:read,products:read",
        "--expires-in-days", "30", "--branch", branch.code, stdout=stdout, stderr=stderr,
    )
    raw_key = stdout.getvalue().strip()
    api_key = ApiKey.objects.get(name="warehouse")
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert api_key.branch == branch
    assert api_key.scopes == ["customers:read", "products:read"]
    assert timedelta(days=29) < api_key.expires_at - timezone.now() <= timedelta(days=30)
    assert raw_key not in stderr.getvalue()


def test_command_rejects_an_unknown_scope(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError):
        call_command("create_api_key", "warehouse", "--scopes", "customers:delete", stdout=StringIO())
    assert not ApiKey.objects.exists()


def test_admin_add_shows_the_key_once(admin_client):
    """Saving the add form shows the plaintext on the response page, not in a stored message."""
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {"name": "mobile-app", "scopes": ["customers:read", "interactions:write"], "branch": ""},
    )

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="mobile-app")
    content = response.content.decode()
    raw_key = content.split('<code id="api-key"')[1].split(">", 1)[1].split("<", 1)[0]
    assert raw_key.startswith(f"crm_{api_key.prefix}_")
    assert api_key.key_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    assert "no-store" in response["Cache-Control"]
    assert AuditEvent.objects.get(action=services.AUDIT_API_KEY_CREATE).actor_label == "root"
    # and it is never shown again, nor the hash
    change_page = admin_client.get(reverse("admin:accounts_apikey_change", args=[api_key.pk])).content.decode()
    assert raw_key not in change_page and api_key.key_hash not in change_page
    list_page = admin_client.get(reverse("admin:accounts_apikey_changelist"), {"q": "mobile"}).content.decode()
    assert "mobile-app" in list_page and api_key.key_hash not in list_page


def test_admin_revoke_action(admin_client, make_key):
    api_key, _raw = make_key()
    response = admin_client.post(
        reverse("admin:accounts_apikey_changelist"),
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert AuditEvent.objects.filter(action=services.AUDIT_API_KEY_REVOKE, actor_label="root").exists()


def test_valid_key_authenticates_as_an_api_client(client, make_key, branch):
    """GET /api/v1/me/ with a key names the key, its scopes and branch; last_used_at is set once a minute."""
    api_key, raw_key = make_key(scopes=["customers:read", "customers:reveal"], branch=branch)

    response = client.get(ME_URL, **auth(raw_key))

    assert response.status_code == 200
    assert response.json() == {
        "kind": "api_key", "name": "core-banking", "scopes": ["customers:read", "customers:reveal"],
        "roles": [], "branch": branch.code,
    }
    api_key.refresh_from_db()
    first_used_at = api_key.last_used_at
    assert first_used_at is not None
    client.get(ME_URL, **auth(raw_key))
    api_key.refresh_from_db()
    assert api_key.last_used_at == first_used_at


def test_session_user_is_still_served(client_as):
    response = client_as("rm").get(ME_URL)
    assert response.status_code == 200
    assert response.json()["kind"] == "user"
    assert response.json()["roles"] == ["relationship_manager"]


@pytest.mark.parametrize("state", ["expired", "revoked"])
def test_expired_and_revoked_keys_are_refused_and_audited(client, make_key, state):
    api_key, raw_key = make_key()
    if state == "expired":
        ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    else:
        services.api_key_revoke(api_key=api_key, by=None)

    response = client.get(ME_URL, **auth(raw_key))

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert response["WWW-Authenticate"] == "Api-Key"
    event = AuditEvent.objects.get(action=services.AUDIT_API_KEY_REJECTED)
    assert event.actor_label == "api-key:core-banking"
    assert event.detail == {"reason": state}
    assert raw_key not in str(event.detail)


def test_unknown_key_is_refused_and_counted_without_the_key(client, make_key):
    """Anyone can send an unknown key: it is a security event (per source and minute), not an audit row."""
    _api_key, raw_key = make_key()
    forged = raw_key[:-4] + "AAAA"

    response = client.get(ME_URL, **auth(forged))

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert not AuditEvent.objects.filter(action=services.AUDIT_API_KEY_REJECTED).exists()
    event = SecurityEvent.objects.get(kind="api_key.unknown")
    assert event.count == 1 and forged[:20] not in event.sample_path


@pytest.mark.parametrize(
    "headers",
    [
        lambda key: {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        lambda key: {"HTTP_AUTHORIZATION": key},
        lambda key: {"HTTP_AUTHORIZATION": "Api-Key"},
        lambda key: {"HTTP_AUTHORIZATION": f"Api-Key {key} extra"},
        lambda key: {"HTTP_X_API_KEY": key},
        lambda key: {"HTTP_AUTHORIZATION": "Api-Key crm_nothing"},
    ],
)
def test_key_in_a_wrong_header_format_is_a_401(client, make_key, headers):
    _api_key, raw_key = make_key()
    response = client.get(ME_URL, **headers(raw_key))
    assert response.status_code == 401
    assert "error" in response.json()


@pytest.mark.urls("tests.core.api_test_urls")
def test_read_only_key_cannot_post(client, make_key):
    """A key with customers:read may GET but not POST (403), and the refusal names the key in the audit log."""
    api_test_urls.CALLS.clear()
    _api_key, raw_key = make_key(scopes=["customers:read"])

    assert client.get("/api/test/echo/", **auth(raw_key)).status_code == 200
    response = client.post("/api/test/echo/", {"name": "x"}, content_type="application/json", **auth(raw_key))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert api_test_urls.CALLS == []
    assert AuditEvent.objects.get(action="access.denied").actor_label == "api-key:core-banking"


@pytest.mark.urls("tests.core.api_test_urls")
def test_write_key_posts_and_the_write_is_attributed_to_it(client, make_key):
    _api_key, raw_key = make_key(name="call-centre", scopes=[ApiScope.CUSTOMERS_WRITE])

    response = client.post("/api/test/echo/", {"name": "x"}, content_type="application/json", **auth(raw_key))

    assert response.status_code == 201
    assert AuditEvent.objects.get(action="test.echo").actor_label == "api-key:call-centre"
    # and a write-only key cannot read
    assert client.get("/api/test/echo/", **auth(raw_key)).status_code == 403


@pytest.mark.urls("tests.core.api_test_urls")
@pytest.mark.parametrize(("role", "get_status", "post_status"), [("rm", 200, 201), ("auditor", 200, 403)])
def test_session_users_are_checked_by_role_predicates(client_as, role, get_status, post_status):
    client = client_as(role)
    assert client.get("/api/test/echo/").status_code == get_status
    assert client.post("/api/test/echo/", {"name": "x"}, content_type="application/json").status_code == post_status


def test_throttle_is_per_key_and_answers_429_in_the_error_shape(client, make_key, settings):
    """After the limit a key gets 429 with retry_after_seconds; another key is unaffected."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"principal": "2/min"}}
    cache.clear()
    _key_a, raw_a = make_key(name="a")
    _key_b, raw_b = make_key(name="b")

    statuses = [client.get(ME_URL, **auth(raw_a)).status_code for _ in range(3)]
    response = client.get(ME_URL, **auth(raw_a))

    assert statuses == [200, 200, 429]
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "throttled"
    assert 1 <= error["retry_after_seconds"] <= 60
    assert "Retry-After" in response
    assert client.get(ME_URL, **auth(raw_b)).status_code == 200
    cache.clear()
