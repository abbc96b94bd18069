"""Who may call the partner API: OAuth2 client credentials of a partner's client, with the
scopes each endpoint needs."""

from datetime import timedelta

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from portal.api.base import PartnerAPIMixin
from tests.portal.factories import UserFactory
from tests.routes import all_routes

pytestmark = pytest.mark.django_db


def test_it_issues_a_token_and_shows_the_client_who_it_is(
    oauth_post, api_client, kestrel, utility_a, utility_b
):
    response = oauth_post(
        "/o/token/",
        kestrel.client_id,
        kestrel.client_secret,
        {"grant_type": "client_credentials", "scope": "utilities:read vehicles:read"},
    )
    assert response.status_code == 200
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert set(token["scope"].split()) == {"utilities:read", "vehicles:read"}

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token['access_token']}")
    me = api_client.get("/api/v1/me")

    assert me.status_code == 200
    assert me.json() == {
        "partner": {"name": "Kestrel Auto", "slug": "kestrel-auto"},
        "client_id": kestrel.client_id,
        "scopes": ["utilities:read", "vehicles:read"],
        "utilities": [{"slug": "alpha", "name": "Alpha Power", "time_zone": "America/Los_Angeles"}],
    }


def test_it_stores_neither_the_client_secret_nor_the_token_readably(kestrel, obtain_token):
    token = obtain_token(kestrel)
    application = Application.objects.get(client_id=kestrel.client_id)
    assert application.client_secret != kestrel.client_secret
    assert AccessToken.objects.filter(application=application).count() == 1
    assert not AccessToken.objects.filter(token=token).exists()


def test_it_grants_the_default_scope_when_none_is_asked_for(kestrel, obtain_token, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel, scope=None)}")
    assert api_client.get("/api/v1/me").json()["scopes"] == ["utilities:read"]


def test_it_refuses_a_wrong_secret_at_the_token_endpoint(oauth_post, kestrel):
    response = oauth_post(
        "/o/token/", kestrel.client_id, "not-the-secret", {"grant_type": "client_credentials"}
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_it_refuses_an_unknown_scope_at_the_token_endpoint(oauth_post, kestrel):
    response = oauth_post(
        "/o/token/",
        kestrel.client_id,
        kestrel.client_secret,
        {"grant_type": "client_credentials", "scope": "billing:write"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_it_exposes_no_authorization_or_application_pages(client):
    for path in ("/o/authorize/", "/o/applications/", "/o/introspect/"):
        assert client.get(path).status_code == 404


def test_it_asks_for_a_token_when_there_is_none(api_client, assert_api_error):
    response = api_client.get("/api/v1/me")
    assert_api_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_bad_token(api_client, kestrel, assert_api_error):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = api_client.get("/api/v1/me")
    assert_api_error(response, 401, "invalid_token")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_it_refuses_an_expired_token(api_client, kestrel, obtain_token, assert_api_error):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel)}")
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert_api_error(api_client.get("/api/v1/me"), 401, "invalid_token")


def test_it_refuses_a_revoked_token(
    oauth_post, api_client, kestrel, obtain_token, assert_api_error
):
    token = obtain_token(kestrel)
    revoked = oauth_post(
        "/o/revoke_token/", kestrel.client_id, kestrel.client_secret, {"token": token}
    )
    assert revoked.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert_api_error(api_client.get("/api/v1/me"), 401, "invalid_token")


def test_it_refuses_a_token_in_the_query_string(
    api_client, kestrel, obtain_token, assert_api_error
):
    response = api_client.get("/api/v1/me", {"access_token": obtain_token(kestrel)})
    assert_api_error(response, 401, "not_authenticated")


def test_it_refuses_a_client_that_is_not_a_partners(oauth_post, api_client, assert_api_error):
    secret = "s3cret-of-an-unrelated-client"
    application = Application.objects.create(
        name="Some other integration",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
    )
    scoped = oauth_post(
        "/o/token/",
        application.client_id,
        secret,
        {"grant_type": "client_credentials", "scope": "utilities:read"},
    )
    assert scoped.status_code == 400
    assert scoped.json()["error"] == "invalid_scope"

    unscoped = oauth_post(
        "/o/token/", application.client_id, secret, {"grant_type": "client_credentials"}
    )
    assert unscoped.status_code == 200
    assert unscoped.json()["scope"] == ""
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {unscoped.json()['access_token']}")
    assert_api_error(api_client.get("/api/v1/me"), 403, "partner_client_required")


def test_it_refuses_a_person_signed_in_to_the_portal(api_client, assert_api_error):
    api_client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert_api_error(api_client.get("/api/v1/me"), 403, "partner_client_required")


def test_it_refuses_a_token_without_the_endpoints_scope(
    api_client, kestrel, obtain_token, assert_api_error
):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(kestrel, 'vehicles:read')}")
    error = assert_api_error(api_client.get("/api/v1/utilities"), 403, "insufficient_scope")
    assert error["details"] == {
        "required_scopes": ["utilities:read"],
        "granted_scopes": ["vehicles:read"],
    }
    # /me needs no particular scope.
    assert api_client.get("/api/v1/me").status_code == 200


def test_it_builds_every_partner_endpoint_on_the_base():
    # The base is where authentication, scopes and the tenant scope are enforced; an endpoint
    # under /api/v1/ that bypassed it would serve every utility's rows.
    public = {"api:v1:root"}
    endpoints = [r for r in all_routes() if r.route.startswith("api/v1/") and r.name not in public]
    assert endpoints
    for route in endpoints:
        assert issubclass(route.view_class, PartnerAPIMixin), route.name
