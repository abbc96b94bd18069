"""Signing in: the login page, closed sign-up, login throttling and mandatory TOTP for
program admins."""

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from portal.identity.adapter import SIGNED_IN_AT_SESSION_KEY
from portal.identity.mfa_adapter import PortalMFAAdapter
from portal.models import User
from portal.roles import Role
from tests.portal.factories import DEFAULT_PASSWORD, UserFactory, make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth counts failed logins (and used TOTP codes) in the cache, which outlives a test.
    cache.clear()
    yield
    cache.clear()


def sign_in(client, email, password=DEFAULT_PASSWORD):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def current_code(secret: str) -> str:
    """What an authenticator app shows right now."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


def test_it_shows_the_login_page_in_the_portal_layout(client):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'class="topbar"' in body  # our base.html
    assert 'class="stacked' in body
    assert 'type="email"' in body and 'type="password"' in body
    assert "Forgot password?" in body
    assert reverse("account_reset_password") in body
    assert reverse("account_signup") not in body


def test_it_signs_in_with_email_and_password(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    response = sign_in(client, user.email.upper())
    assert response.status_code == 302
    assert client.get(reverse("home"), follow=True).status_code == 200
    assert int(client.session["_auth_user_id"]) == user.pk


def test_it_shows_a_wrong_password_as_a_form_error(client):
    user = UserFactory()
    response = sign_in(client, user.email, "wrong-password-here")
    assert response.status_code == 200
    assert b"error-summary" in response.content
    assert "_auth_user_id" not in client.session


def test_it_locks_out_after_repeated_failed_logins(client):
    user = UserFactory()
    for _ in range(5):
        assert sign_in(client, user.email, "wrong-password-here").status_code == 200
    response = sign_in(client, user.email)  # even the right password is refused now
    assert response.status_code == 200
    assert b"Too many failed login attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_it_renders_the_password_reset_pages(client):
    user = UserFactory()
    assert client.get(reverse("account_reset_password")).status_code == 200
    response = client.post(reverse("account_reset_password"), {"email": user.email})
    assert response.status_code == 302
    assert client.get(response.url).status_code == 200
    assert mail.outbox[0].to == [user.email]


def test_it_points_an_unknown_address_to_invitations_not_sign_up(client):
    client.post(reverse("account_reset_password"), {"email": "stranger@example.test"})
    body = mail.outbox[0].body
    assert "invitation only" in body
    assert "http://127.0.0.1:8000" + reverse("request_access") in body
    assert reverse("account_signup") not in body


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_shows_signup_as_closed(client, method):
    response = getattr(client, method)(
        reverse("account_signup"),
        {"email": "me@example.test", "password1": "x" * 20, "password2": "x" * 20},
    )
    assert response.status_code == 200
    assert b"Sign-up is by invitation" in response.content
    assert reverse("request_access").encode() in response.content
    assert not User.objects.filter(email="me@example.test").exists()


# --- Mandatory TOTP for program admins --------------------------------------------------------


def test_it_sends_a_program_admin_without_totp_to_set_it_up(client, utility_a):
    admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    client.force_login(admin)
    response = client.get(reverse("utility:dashboard", kwargs={"utility_slug": "alpha"}))
    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp")


def test_it_does_not_require_totp_of_other_roles(client, utility_a):
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    response = client.get(reverse("utility:dashboard", kwargs={"utility_slug": "alpha"}))
    assert response.status_code == 200


def test_it_explains_and_completes_totp_setup(client, utility_a):
    admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    response = sign_in(client, admin.email)
    page = client.get(response.url, follow=True)  # home → the middleware → TOTP setup
    assert page.redirect_chain[-1][0] == reverse("mfa_activate_totp")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'class="topbar"' in body
    assert "Required for your role" in body
    secret = client.session[SECRET_SESSION_KEY]
    response = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists()
    dashboard = client.get(reverse("utility:dashboard", kwargs={"utility_slug": "alpha"}))
    assert dashboard.status_code == 200


def test_it_does_not_say_required_to_a_volunteer(client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    sign_in(client, analyst.email)
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert b"Required for your role" not in page.content


def test_it_refuses_to_let_a_program_admin_turn_totp_off(client, utility_a):
    admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    secret = generate_totp_secret()
    TOTP.activate(admin, secret)
    sign_in(client, admin.email)
    # Password accepted; the second step asks for the app's code.
    response = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert response.status_code == 302
    page = client.get(reverse("mfa_deactivate_totp"))
    assert page.status_code == 200
    assert "requires an authenticator app" in page.content.decode()
    client.post(reverse("mfa_deactivate_totp"))
    assert Authenticator.objects.filter(user=admin, type=Authenticator.Type.TOTP).exists()


def test_it_asks_for_the_password_again_once_the_sign_in_is_no_longer_fresh(client, utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    sign_in(client, analyst.email)
    session = client.session
    session[SIGNED_IN_AT_SESSION_KEY] -= 3600
    session.save()
    response = client.get(reverse("mfa_activate_totp"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_reauthenticate"))
    page = client.get(response.url)
    assert b"Confirm your password" in page.content
    response = client.post(response.url, {"password": DEFAULT_PASSWORD})
    assert client.get(reverse("mfa_activate_totp")).status_code == 200


@pytest.mark.forced_login_not_fresh
def test_it_does_not_count_a_forced_login_as_a_fresh_sign_in(client, utility_a):
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    response = client.get(reverse("mfa_activate_totp"))
    assert response.url.startswith(reverse("account_reauthenticate"))


def test_it_lets_other_roles_turn_totp_off(utility_a):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    authenticator = TOTP.activate(analyst, generate_totp_secret()).instance
    assert PortalMFAAdapter().can_delete_authenticator(authenticator)
    admin = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    admins_totp = TOTP.activate(admin, generate_totp_secret()).instance
    assert not PortalMFAAdapter().can_delete_authenticator(admins_totp)
