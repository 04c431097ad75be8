"""/healthz says the process is up; /readyz says whether the database and broker answer."""

import copy

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_and_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
def test_readyz_is_503_when_the_database_is_unreachable(client, settings, unused_tcp_port):
    """Given a database address where nothing listens, /readyz reports the database as down."""
    databases = copy.deepcopy(settings.DATABASES)
    databases["default"].update(HOST="127.0.0.1", PORT=unused_tcp_port)
    settings.DATABASES = databases  # the probe reads settings; the test's own connection is untouched

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["broker"]["ok"] is True


def test_readyz_is_503_when_the_broker_is_unreachable(client, settings, unused_tcp_port):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{unused_tcp_port}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False
    assert response.json()["checks"]["database"]["ok"] is True


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abcdef0123456789")
    assert response["X-Request-ID"] == "abcdef0123456789"

    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")
    assert generated["X-Request-ID"] != "bad id with spaces"
    assert len(generated["X-Request-ID"]) == 32


def test_api_schema_needs_a_login(client, client_as):
    # 401, not 403: API-key authentication comes first and names its scheme in WWW-Authenticate.
    assert client.get("/api/schema/").status_code == 401
    assert client_as("rm").get("/api/schema/").status_code == 200
