"""ApplicationError is mapped once for pages (a message) and once for the API (one JSON shape)."""

import pytest
from django.contrib.messages import get_messages

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.error_urls")]


def test_api_application_error_has_the_documented_shape(client):
    response = client.post("/api/test/refuse/", {}, content_type="application/json")

    assert response.status_code == 409
    assert response.json() == {
        "error": {"code": "conflict", "message": "Someone else resolved it first.", "fields": {}}
    }


def test_api_validation_error_lists_fields_in_the_same_shape(client):
    response = client.post("/api/test/validate/", {"amount_cny": "12O.00"}, content_type="application/json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "amount_cny" in error["fields"]


def test_api_malformed_json_is_a_400_in_the_same_shape(client):
    response = client.post("/api/test/validate/", "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_page_application_error_renders_a_message_not_a_500(client):
    response = client.get("/test/refuse/")

    assert response.status_code == 409
    assert "Cannot resolve a closed complaint." in response.content.decode()


def test_page_post_application_error_redirects_back_with_a_message(client):
    response = client.post("/test/refuse/", HTTP_REFERER="http://testserver/test/fine/")

    assert response.status_code == 302
    assert response["Location"] == "http://testserver/test/fine/"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Cannot resolve a closed complaint."]


def test_page_post_does_not_redirect_to_a_foreign_referer(client):
    response = client.post("/test/refuse/", HTTP_REFERER="https://evil.example/")

    assert response.status_code == 409
