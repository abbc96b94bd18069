import base64
import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from portal.partners import IssuedCredentials, create_partner_client
from tests import api


def _audit_flush_guard(enable: bool) -> None:
    """Switch the append-only tables' guard against TRUNCATE, the statement a test flush
    uses."""
    from django.db import connection

    action = "ENABLE" if enable else "DISABLE"
    with connection.cursor() as cursor:
        cursor.execute(
            f"ALTER TABLE portal_auditevent {action} TRIGGER portal_auditevent_no_truncate"
        )
        cursor.execute(
            f"ALTER TABLE enrollment_ledgerentry {action} TRIGGER enrollment_ledgerentry_no_truncate"
        )


@pytest.fixture(autouse=True)
def _audit_guard_lifted_only_for_the_flush(request):
    """Transactional tests end by emptying every table, which the append-only audit guard
    refuses. The guard stays on for the whole test body and is lifted only for the flush that
    follows it (this fixture's teardown runs just before the database fixture's)."""
    marker = request.node.get_closest_marker("django_db")
    uses_db = marker is not None or {"db", "transactional_db", "live_server"} & set(
        request.fixturenames
    )
    if not uses_db:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    _audit_flush_guard(enable=True)  # inside a plain test's transaction, rolled back after it
    yield
    transactional = (
        "live_server" in request.fixturenames
        or "transactional_db" in request.fixturenames
        or (marker is not None and marker.kwargs.get("transaction", False))
    )
    if transactional:
        _audit_flush_guard(enable=False)


# A fast hasher for people's passwords; the client-secret hasher stays (it is fast already).
FAST_PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "portal.api.client_secrets.ClientSecretHasher",
]


@pytest.fixture(autouse=True)
def _forced_logins_are_fresh_sign_ins(request, monkeypatch):
    """``client.force_login(user)`` stands for signing in, so it leaves what a real sign-in
    leaves: the time of the sign-in (``PortalAccountAdapter.post_login``), which lets a
    sensitive action through without asking for the password again for a few minutes
    (``portal.identity.reauth``). Tests of that prompt make the session stale themselves;
    ``@pytest.mark.forced_login_not_fresh`` keeps the bare Django behaviour."""
    if request.node.get_closest_marker("forced_login_not_fresh"):
        return
    from portal.identity.adapter import SIGNED_IN_AT_SESSION_KEY

    force_login = Client.force_login

    def force_login_freshly(self, user, backend=None):
        force_login(self, user, backend)
        session = self.session
        session[SIGNED_IN_AT_SESSION_KEY] = time.time()
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login_freshly)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and failure budgets count in the cache: each test starts with none spent."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def admin_user(db):
    """The platform's superuser (pytest-django's fixture, with the TOTP staff must have)."""
    from tests.portal.factories import UserFactory

    return UserFactory(email="platform@example.test", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, admin_user):
    """A client signed in to the admin site the only way there is: password, then TOTP."""
    from tests.portal.signing_in import sign_in_with_totp

    sign_in_with_totp(client, admin_user)
    return client


@pytest.fixture
def eager_tasks():
    """Celery tasks run in this process as soon as they are sent (on commit, for tasks
    enqueued with enqueue_on_commit). Set on the app itself: once Celery has read its
    configuration, later changes to Django settings no longer reach it."""
    from portal.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded files from tests land in a temporary folder, never in the working tree."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def utility_a(db):
    from tests.portal.factories import UtilityFactory

    return UtilityFactory(name="Alpha Power", slug="alpha", time_zone="America/Los_Angeles")


@pytest.fixture
def utility_b(db):
    from tests.portal.factories import UtilityFactory

    return UtilityFactory(name="Bravo Electric", slug="bravo", time_zone="America/Denver")


# --- The partner API: clients issued by the real service, tokens from the real /o/token/ ---


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
def assert_api_error():
    """``assert_api_error(response, 404, "not_found")`` checks the one error shape and
    returns the ``error`` object."""
    return api.assert_api_error
