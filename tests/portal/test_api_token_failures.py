"""Finding 2 of the security review: /o/token/ spends a failure budget per client id and per
address on every failed client authentication and answers 429 once one is spent, before any
secret is checked; client secrets are checked with a fast keyed hash, and the API throttles
requests without a valid token per address."""

import base64

import pytest
from django.contrib.auth.hashers import make_password
from oauth2_provider.models import Application

from portal.api.oauth_validator import PartnerOAuth2Validator

pytestmark = pytest.mark.django_db

GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def budgets(settings):
    settings.OAUTH2_CLIENT_AUTH_FAILURES = {
        "per_client": 3,
        "per_address": 5,
        "window_seconds": 86400,
    }


def wrong(oauth_post, client_id, path="/o/token/"):
    return oauth_post(path, client_id, "not-the-secret", GRANT)


def test_it_answers_429_in_the_oauth_error_shape_once_a_client_id_spent_its_budget(
    budgets, oauth_post, kestrel, monkeypatch
):
    assert [wrong(oauth_post, kestrel.client_id).status_code for _ in range(3)] == [401] * 3

    checks = []
    original = PartnerOAuth2Validator.authenticate_client
    monkeypatch.setattr(
        PartnerOAuth2Validator,
        "authenticate_client",
        lambda self, request, *a, **kw: checks.append(1) or original(self, request, *a, **kw),
    )
    refused = wrong(oauth_post, kestrel.client_id)
    right = oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT)

    assert refused.status_code == 429
    assert refused.json()["error"] == "slow_down"
    assert 1 <= int(refused["Retry-After"]) <= 86400
    assert refused["Cache-Control"] == "no-store"
    # The right secret waits too (the guesser may be spread over many addresses), and no
    # secret was checked for either: a refused attempt costs a cache read.
    assert right.status_code == 429
    assert checks == []


def test_it_counts_failures_per_address_across_client_ids(budgets, oauth_post, kestrel):
    statuses = [wrong(oauth_post, f"guess-{n}").status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]
    assert oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT).status_code == (
        429
    )


def test_it_counts_failures_with_the_credentials_in_the_body(budgets, client, kestrel):
    body = {**GRANT, "client_id": kestrel.client_id, "client_secret": "not-the-secret"}
    statuses = [client.post("/o/token/", body).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_successful_requests_spend_nothing(budgets, oauth_post, kestrel):
    for _ in range(6):
        response = oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT)
        assert response.status_code == 200


def test_the_revocation_endpoint_spends_the_same_budget(budgets, oauth_post, kestrel):
    statuses = [
        oauth_post("/o/revoke_token/", kestrel.client_id, "nope", {"token": "x"}).status_code
        for _ in range(3)
    ]
    assert statuses == [401] * 3
    assert wrong(oauth_post, kestrel.client_id).status_code == 429


def test_an_undecodable_basic_header_is_counted_by_address(budgets, client):
    header = "Basic " + base64.b64encode(b"\xff\xfe").decode()
    statuses = [
        client.post("/o/token/", GRANT, HTTP_AUTHORIZATION=header).status_code for _ in range(6)
    ]
    assert statuses[-1] == 429


def test_new_client_secrets_are_stored_with_the_keyed_hash(kestrel):
    stored = Application.objects.get(client_id=kestrel.client_id).client_secret
    assert stored.startswith("hmac_sha256_client$")


def test_a_secret_stored_with_a_password_hash_works_and_is_upgraded_on_use(
    oauth_post, kestrel, settings
):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "portal.api.client_secrets.ClientSecretHasher",
    ]
    old_hash = make_password(kestrel.client_secret, hasher="pbkdf2_sha256")
    Application.objects.filter(client_id=kestrel.client_id).update(client_secret=old_hash)

    assert wrong(oauth_post, kestrel.client_id).status_code == 401
    assert Application.objects.get(client_id=kestrel.client_id).client_secret == old_hash

    assert oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT).status_code == (
        200
    )
    upgraded = Application.objects.get(client_id=kestrel.client_id).client_secret
    assert upgraded.startswith("hmac_sha256_client$")
    assert oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT).status_code == (
        200
    )


def test_the_keyed_hash_depends_on_its_key(kestrel, oauth_post, settings):
    settings.CLIENT_SECRET_HASH_KEY = "another-key"
    assert oauth_post("/o/token/", kestrel.client_id, kestrel.client_secret, GRANT).status_code == (
        401
    )


def test_it_throttles_requests_without_a_valid_token_per_address(
    settings, api_client, assert_api_error
):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"partner": "1000/min", "anonymous": "3/min"},
    }
    statuses = [api_client.get("/api/v1/me").status_code for _ in range(3)]
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    error = assert_api_error(api_client.get("/api/v1/utilities"), 429, "rate_limited")

    assert statuses == [401] * 3
    assert error["details"]["retry_after_seconds"] > 0
