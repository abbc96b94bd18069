"""Errors outside any endpoint's own logic still use the one shape: unknown paths, wrong
methods, too many requests."""

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/", "/api/v1/no-such-thing", "/api/v1/me/", "/api/v9/x/y"])
def test_it_answers_an_unknown_api_path_with_json(client, path, assert_api_error):
    assert_api_error(client.get(path), 404, "not_found")


def test_it_answers_an_unknown_api_path_json_for_a_post_without_csrf_token(assert_api_error):
    csrf_checking = Client(enforce_csrf_checks=True)
    response = csrf_checking.post("/api/v1/nothing", {"a": 1})
    assert_api_error(response, 404, "not_found")


def test_it_answers_a_wrong_method_with_the_error_shape(kestrel_api, assert_api_error):
    assert_api_error(kestrel_api.delete("/api/v1/me"), 405, "method_not_allowed")


def test_it_answers_an_unacceptable_media_type_with_json(kestrel_api, assert_api_error):
    response = kestrel_api.get("/api/v1/me", HTTP_ACCEPT="text/html")
    assert_api_error(response, 406, "not_acceptable")


@pytest.fixture
def three_per_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner": "3/min", "anonymous": "3/min"},
    }
    cache.clear()
    yield
    cache.clear()


def test_it_throttles_each_client_separately(
    three_per_minute, kestrel_api, issue_client, obtain_token, assert_api_error
):
    for _ in range(3):
        assert kestrel_api.get("/api/v1/me").status_code == 200

    response = kestrel_api.get("/api/v1/me")

    error = assert_api_error(response, 429, "rate_limited")
    retry_after = int(response["Retry-After"])
    assert 0 < retry_after <= 60
    assert error["details"] == {"retry_after_seconds": retry_after}

    other = APIClient()
    other_credentials = issue_client("Other Motors", "alpha")
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(other_credentials)}")
    assert other.get("/api/v1/me").status_code == 200


def test_it_serves_a_public_api_root(client):
    response = client.get("/api/v1/")
    assert response.status_code == 200
    links = response.json()
    assert links["me"] == "http://testserver/api/v1/me"
    assert links["utilities"] == "http://testserver/api/v1/utilities"
    assert links["token"] == "http://testserver/o/token/"
    assert links["docs"] == "http://testserver/api/docs/"


@pytest.mark.parametrize("path", ["/api/v1/me", "/api/v1/vehicles", "/api/v1/utilities"])
def test_it_answers_trace_with_405_in_the_error_shape(kestrel_api, assert_api_error, path):
    assert_api_error(kestrel_api.generic("TRACE", path), 405, "method_not_allowed")


@pytest.mark.parametrize("signed", [True, False])
def test_it_answers_an_oversize_body_with_413_before_reading_it(
    kestrel_api, assert_api_error, settings, signed
):
    client = kestrel_api if signed else APIClient()
    body = b'{"vin": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'
    response = client.generic("POST", "/api/v1/vehicles", body, content_type="application/json")
    error = assert_api_error(response, 413, "payload_too_large")
    assert error["details"] == {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
