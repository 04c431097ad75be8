"""Bad input never yields a 500: oversized, malformed, mis-encoded and unknown-field bodies are 4xx
in the one error shape; the docs and schema are served (to signed-in staff) without a CDN."""

import json
import re

import pytest

from tests.core import api_test_urls

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.api_test_urls")]

URL = "/api/test/echo/"


@pytest.fixture(autouse=True)
def _fresh_calls():
    api_test_urls.CALLS.clear()


def assert_error_shape(response, status, code):
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "fields"} <= set(body["error"])
    assert body["error"]["code"] == code


@pytest.mark.parametrize("with_idempotency_key", [False, True])
def test_oversized_body_is_a_413(client_as, settings, with_idempotency_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    headers = {"HTTP_IDEMPOTENCY_KEY": "big"} if with_idempotency_key else {}
    body = json.dumps({"name": "x", "amount": 1, "padding": "p" * 500})

    response = client_as("rm").post(URL, body, content_type="application/json", **headers)

    assert_error_shape(response, 413, "payload_too_large")
    assert api_test_urls.CALLS == []


def test_malformed_json_is_a_400_parse_error(client_as):
    response = client_as("rm").post(URL, '{"name": "x",', content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_invalid_utf8_is_a_400_parse_error(client_as):
    response = client_as("rm").post(URL, b'{"name": "\xff\xfe"}', content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_gbk_bytes_are_a_400_parse_error(client_as):
    response = client_as("rm").post(URL, '{"name": "张三"}'.encode("gbk"), content_type="application/json")
    assert_error_shape(response, 400, "parse_error")


def test_unknown_fields_are_a_400_naming_each(client_as):
    response = client_as("rm").post(
        URL, {"name": "x", "colour": "red", "nmae": "y"}, content_type="application/json"
    )
    assert_error_shape(response, 400, "invalid")
    assert set(response.json()["error"]["fields"]) == {"colour", "nmae"}
    assert api_test_urls.CALLS == []


@pytest.mark.parametrize("body", ['["name"]', '"name"', "null", "12"])
def test_a_body_that_is_not_an_object_is_a_400(client_as, body):
    response = client_as("rm").post(URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "error" in response.json()


def test_form_encoded_body_is_a_415(client_as):
    response = client_as("rm").post(URL, {"name": "x"})
    assert_error_shape(response, 415, "unsupported_media_type")


def test_wrong_types_are_a_400(client_as):
    response = client_as("rm").post(URL, {"name": {"a": 1}, "amount": "many"}, content_type="application/json")
    assert_error_shape(response, 400, "invalid")
    assert set(response.json()["error"]["fields"]) == {"name", "amount"}


def test_unauthenticated_api_call_is_a_401(client):
    response = client.get("/api/v1/me/")
    assert_error_shape(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


def test_docs_need_login(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_docs_render_from_vendored_assets(client_as):
    response = client_as("rm").get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    script_sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert script_sources, "the page loads Swagger UI from our static files"
    # Swagger UI from our static files; its start-up script from the split view itself (no inline script, CSP).
    assert all(src.startswith(("/static/", "/api/docs/?script")) for src in script_sources)
    # (not "cdn" anywhere in the page: the random CSRF token in it may contain those letters)
    urls = re.findall(r'(?:src|href)="([^"]*)"', html) + re.findall(r"https?://[^\s\"'<>]+", html)
    assert not [url for url in urls if "cdn" in url.lower() or url.startswith(("https://", "http://", "//"))]


def test_schema_needs_authentication(client):
    assert client.get("/api/schema/").status_code == 401


def test_schema_has_the_api_key_scheme_and_the_error_component(client_as):
    schema = client_as("rm").get("/api/schema/", {"format": "json"}).json()

    assert schema["components"]["securitySchemes"]["ApiKeyAuth"] == {
        "type": "apiKey", "in": "header", "name": "Authorization",
        "description": schema["components"]["securitySchemes"]["ApiKeyAuth"]["description"],
    }
    assert "ApiError" in schema["components"]["schemas"]
    me = schema["paths"]["/api/v1/me/"]["get"]
    assert {"ApiKeyAuth": []} in me["security"]
    assert me["responses"]["401"]["content"]["application/json"]["schema"]["$ref"].endswith("/ApiError")
