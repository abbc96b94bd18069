"""Fixtures for the partner API: clients issued by the real service, tokens from the real
/o/token/ endpoint."""

from __future__ import annotations

import base64

import pytest
from rest_framework.test import APIClient

from portal.partners import IssuedCredentials, create_partner_client


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def issue_client(db):
    """``issue_client("Kestrel Auto", "alpha", ...)``: a partner client via the service."""

    def issue(partner_name: str, *utility_slugs: str, **options) -> IssuedCredentials:
        return create_partner_client(
            partner_name=partner_name, utility_slugs=list(utility_slugs), **options
        )

    return issue


@pytest.fixture
def oauth_post(client):
    """``oauth_post("/o/token/", client_id, client_secret, {...})``: a form POST to an OAuth
    endpoint, the client authenticating with HTTP Basic as RFC 6749 prefers."""

    def post(path: str, client_id: str, client_secret: str, data: dict):
        credentials = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        return client.post(path, data, HTTP_AUTHORIZATION=f"Basic {credentials}")

    return post


@pytest.fixture
def obtain_token(oauth_post):
    """``obtain_token(credentials, scope="utilities:read")``: an access token from /o/token/."""

    def obtain(credentials: IssuedCredentials, scope: str | None = "utilities:read") -> str:
        data = {"grant_type": "client_credentials"}
        if scope is not None:
            data["scope"] = scope
        response = oauth_post("/o/token/", credentials.client_id, credentials.client_secret, data)
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return obtain


@pytest.fixture
def kestrel(issue_client, utility_a):
    """Kestrel Auto's client, allowed in Alpha Power only."""
    return issue_client("Kestrel Auto", utility_a.slug)


@pytest.fixture
def kestrel_api(api_client, obtain_token, kestrel) -> APIClient:
    """An API client holding a Kestrel token with the utilities:read scope."""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel)}")
    return api_client


@pytest.fixture
def assert_api_error():
    """``assert_api_error(response, 404, "not_found")`` checks the one error shape and
    returns the ``error`` object."""
    return _assert_api_error


def _assert_api_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert error["code"] == code
    assert error["message"]
    assert isinstance(error["details"], dict)
    assert error["request_id"] == response["X-Request-ID"]
    return error
