"""The admin site signs in through allauth: the same failed-login throttle as the portal, and
a second factor (TOTP) for every staff account. The admin's own login form never checks a
password."""

from __future__ import annotations

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core.cache import cache
from django.urls import reverse
from django.utils.http import urlencode
from django_scopes import scopes_disabled

from portal.identity.services.security_events import SecurityEvent
from portal.models import AuditEvent
from tests.portal.factories import UserFactory
from tests.portal.signing_in import current_code, sign_in, sign_in_with_totp

pytestmark = pytest.mark.django_db

ADMIN = "/admin/"


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth counts failed sign-ins and used TOTP codes in the cache
    yield
    cache.clear()


@pytest.fixture
def staff():
    return UserFactory(email="root@platform.test", is_staff=True, is_superuser=True)


def login_for_admin() -> str:
    return reverse("account_login") + "?" + urlencode({"next": ADMIN})


def test_it_sends_the_admin_login_to_the_portals_sign_in(client):
    response = client.get(ADMIN, follow=True)
    assert response.redirect_chain[-1][0] == login_for_admin()
    assert b'name="password"' in response.content
    assert response.request["PATH_INFO"] == reverse("account_login")


def test_the_admin_login_form_checks_no_password(client, staff):
    response = client.post(
        reverse("admin:login") + "?next=/admin/",
        {"username": staff.email, "password": "correct-horse-battery-staple"},
    )
    assert response.status_code == 302 and response.url == login_for_admin()
    assert "_auth_user_id" not in client.session


def test_it_throttles_wrong_passwords_on_the_way_to_the_admin(client, staff):
    answers = [
        client.post(login_for_admin(), {"login": staff.email, "password": f"guess-{n}"})
        for n in range(30)
    ]
    throttled = [
        r for r in answers if r.status_code == 429 or b"Too many failed login attempts" in r.content
    ]
    assert len(throttled) >= 25  # allauth allows 5 failures per account per 5 minutes
    right = sign_in(client, staff.email)  # even the right password, now
    assert b"Too many failed login attempts" in right.content or right.status_code == 429
    assert "_auth_user_id" not in client.session
    assert client.get(ADMIN).status_code == 302
    with scopes_disabled():
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert actions.count(SecurityEvent.SIGN_IN_FAILED) == 5
    assert SecurityEvent.SIGN_IN_LOCKED in actions


def test_the_right_password_without_totp_does_not_reach_the_admin(client, staff):
    response = sign_in(client, staff.email)
    assert response.status_code == 302
    # Signed in, but staff must set up TOTP before anything else.
    response = client.get(ADMIN)
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    assert client.get(reverse("admin:portal_user_changelist")).url == reverse("mfa_activate_totp")


def test_the_password_alone_is_not_a_sign_in_for_staff_with_totp(client, staff):
    TOTP.activate(staff, generate_totp_secret())
    response = sign_in(client, staff.email)
    assert response.url == reverse("mfa_authenticate")
    assert "_auth_user_id" not in client.session
    assert client.get(ADMIN).status_code == 302


def test_the_password_and_totp_reach_the_admin(client, staff):
    sign_in_with_totp(client, staff)
    assert client.get(ADMIN).status_code == 200
    assert client.get(reverse("admin:portal_user_changelist")).status_code == 200


def test_a_session_that_skipped_the_second_factor_must_give_it_now(client, staff):
    # E.g. signed in before TOTP was set up: the session holds no second factor yet.
    secret = generate_totp_secret()
    TOTP.activate(staff, secret)
    client.force_login(staff)
    response = client.get(ADMIN, follow=True)
    confirm = reverse("mfa_reauthenticate") + "?" + urlencode({"next": ADMIN})
    assert response.redirect_chain[-1][0] == confirm
    done = client.post(confirm, {"code": current_code(secret)})
    assert done.status_code == 302 and done.url == ADMIN
    assert client.get(ADMIN).status_code == 200


def test_it_refuses_someone_who_is_not_staff(client):
    user = UserFactory()
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    sign_in_with_totp(client, user, secret=secret)
    response = client.get(ADMIN, follow=True)
    assert response.status_code == 403


def test_it_changes_passwords_on_the_portals_page(admin_client):
    response = admin_client.get(reverse("admin:password_change"))
    assert response.status_code == 302 and response.url == reverse("account_change_password")


def test_it_records_entering_the_admin_once_per_session(admin_client, admin_user):
    admin_client.get(ADMIN)
    admin_client.get(reverse("admin:portal_user_changelist"))
    with scopes_disabled():
        entered = AuditEvent.objects.filter(action=SecurityEvent.ADMIN_SIGNED_IN)
        assert [(e.actor_user_id, e.utility_id) for e in entered] == [(admin_user.pk, None)]
