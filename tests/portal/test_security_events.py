"""Security events: each sign-in, failure, lockout, second-factor failure, password and
second-factor change and sign-out leaves an audit row in every utility the person belongs to
(a platform row when none) and one structured line on the ``portal.security`` logger, with
the IP address, user agent and request id, and never a password or a code. Auditors filter
the trail for them."""

from __future__ import annotations

import json
import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, TOTP, generate_totp_secret
from django.core import mail
from django.core.cache import cache
from django.urls import reverse
from django_scopes import scopes_disabled

from portal.identity.services.security_events import SecurityEvent
from portal.models import AuditEvent
from portal.roles import Role
from tests.portal.factories import DEFAULT_PASSWORD, UserFactory, make_member
from tests.portal.signing_in import current_code, sign_in, sign_in_with_totp

pytestmark = pytest.mark.django_db

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
ADDRESS = "203.0.113.7"
CLIENT_HEADERS = {"REMOTE_ADDR": ADDRESS, "HTTP_USER_AGENT": BROWSER}


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth counts failed sign-ins and used TOTP codes in the cache
    yield
    cache.clear()


@pytest.fixture
def client(client):
    client.defaults.update(CLIENT_HEADERS)
    return client


def rows(event: SecurityEvent) -> list[AuditEvent]:
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=event).order_by("utility_id", "id"))


def logged(caplog, event: SecurityEvent) -> list[dict]:
    return [
        r.security_event
        for r in caplog.records
        if r.name == "portal.security" and r.security_event["event"] == event
    ]


def test_a_sign_in_is_recorded_in_each_of_the_persons_utilities(
    client, caplog, utility_a, utility_b
):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    make_member(Role.AUDITOR, utility=utility_b, user=user)
    caplog.set_level("INFO", logger="portal.security")

    assert sign_in(client, user.email).status_code == 302

    signed_in = rows(SecurityEvent.SIGNED_IN)
    assert [r.utility_id for r in signed_in] == [utility_a.pk, utility_b.pk]
    for row in signed_in:
        assert (row.actor_user_id, row.object_type, row.object_id) == (
            user.pk,
            "portal.user",
            str(user.pk),
        )
        assert row.changes == {"ip": ADDRESS, "user_agent": BROWSER, "methods": ["password"]}
        assert row.request_id
    [line] = logged(caplog, SecurityEvent.SIGNED_IN)
    assert line["user_id"] == user.pk and line["email"] == user.email
    assert (line["ip"], line["user_agent"]) == (ADDRESS, BROWSER)
    assert line["request_id"] == signed_in[0].request_id
    message = next(r.getMessage() for r in caplog.records if r.name == "portal.security")
    assert json.loads(message.removeprefix("security_event ")) == line
    assert DEFAULT_PASSWORD not in caplog.text


def test_someone_outside_every_utility_gets_a_platform_row(client):
    user = UserFactory()
    sign_in(client, user.email)
    assert [r.utility_id for r in rows(SecurityEvent.SIGNED_IN)] == [None]


def test_a_wrong_password_is_recorded_without_the_password(client, caplog, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    caplog.set_level("INFO", logger="portal.security")

    sign_in(client, user.email, "Tr0ub4dor&3-wrong")

    [row] = rows(SecurityEvent.SIGN_IN_FAILED)
    assert row.utility_id == utility_a.pk
    assert row.actor_user_id is None and row.actor_label == f"anonymous ({ADDRESS})"
    assert row.object_id == str(user.pk)
    assert row.changes == {"ip": ADDRESS, "user_agent": BROWSER, "login": user.email}
    [line] = logged(caplog, SecurityEvent.SIGN_IN_FAILED)
    assert line["user_id"] == user.pk
    assert "Tr0ub4dor" not in caplog.text and "Tr0ub4dor" not in str(row.changes)
    assert any(r.levelname == "WARNING" for r in caplog.records if r.name == "portal.security")


def test_an_unknown_address_is_a_platform_row_naming_the_address(client):
    sign_in(client, "nobody@example.test", "whatever-it-is")
    [row] = rows(SecurityEvent.SIGN_IN_FAILED)
    assert (row.utility_id, row.object_id) == (None, "")
    assert row.changes["login"] == "nobody@example.test"


def test_a_password_typed_into_the_email_box_is_not_recorded(client):
    client.post(reverse("account_login"), {"login": "hunter2hunter2", "password": "x"})
    for row in rows(SecurityEvent.SIGN_IN_FAILED):
        assert "hunter2" not in str(row.changes)


def test_a_lockout_is_recorded(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    for n in range(6):
        sign_in(client, user.email, f"wrong-{n}")
    assert len(rows(SecurityEvent.SIGN_IN_FAILED)) == 5
    [locked] = rows(SecurityEvent.SIGN_IN_LOCKED)
    assert (locked.utility_id, locked.object_id) == (utility_a.pk, str(user.pk))


def test_a_wrong_authenticator_code_is_recorded_without_the_code(client, utility_a):
    user = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    TOTP.activate(user, generate_totp_secret())
    sign_in(client, user.email)
    client.post(reverse("mfa_authenticate"), {"code": "000000"})
    [row] = rows(SecurityEvent.MFA_FAILED)
    assert row.object_id == str(user.pk) and row.actor_user_id is None
    assert row.changes == {
        "ip": ADDRESS,
        "user_agent": BROWSER,
        "type": "totp",
        "reauthentication": False,
    }


def test_a_sign_in_with_totp_lists_both_factors(client, utility_a):
    user = make_member(Role.PROGRAM_ADMIN, utility=utility_a)
    sign_in_with_totp(client, user)
    [row] = rows(SecurityEvent.SIGNED_IN)
    assert row.changes["methods"] == ["password", "mfa:totp"]


def test_adding_and_removing_totp_are_recorded(
    client, utility_a, django_capture_on_commit_callbacks
):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    sign_in(client, user.email)
    client.get(reverse("mfa_activate_totp"))
    secret = client.session[SECRET_SESSION_KEY]
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals on commit
        client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert Authenticator.objects.filter(user=user, type="totp").exists()
    assert "totp" in [r.changes["type"] for r in rows(SecurityEvent.MFA_ADDED)]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("mfa_deactivate_totp"))
    assert not Authenticator.objects.filter(user=user, type="totp").exists()
    assert "totp" in [r.changes["type"] for r in rows(SecurityEvent.MFA_REMOVED)]


def test_a_password_change_is_recorded(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    sign_in(client, user.email)
    new = "another-long-passphrase-77"
    response = client.post(
        reverse("account_change_password"),
        {"oldpassword": DEFAULT_PASSWORD, "password1": new, "password2": new},
    )
    assert response.status_code == 302
    [row] = rows(SecurityEvent.PASSWORD_CHANGED)
    assert row.actor_user_id == user.pk and new not in str(row.changes)


def test_a_password_reset_is_recorded(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    client.post(reverse("account_reset_password"), {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    form_url = client.get(link.group(1)).url  # allauth moves the key out of the address
    new = "reset-long-passphrase-99"
    response = client.post(form_url, {"password1": new, "password2": new})
    assert response.status_code == 302
    [row] = rows(SecurityEvent.PASSWORD_RESET)
    assert row.object_id == str(user.pk) and row.utility_id == utility_a.pk


def test_signing_out_is_recorded(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    sign_in(client, user.email)
    client.post(reverse("account_logout"))
    [row] = rows(SecurityEvent.SIGNED_OUT)
    assert (row.actor_user_id, row.utility_id) == (user.pk, utility_a.pk)


# --- Auditors find them ------------------------------------------------------------------------


def audit_list(client, utility, **filters):
    response = client.get(reverse("utility:audit_list", args=[utility.slug]), filters)
    assert response.status_code == 200
    return response


def test_auditors_filter_the_trail_for_security_events(client, utility_a, utility_b):
    analyst = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    outsider = make_member(Role.PROGRAM_ANALYST, utility=utility_b)
    sign_in(client, analyst.email, "wrong-one-here")
    sign_in(client, outsider.email, "wrong-one-here")
    client.post(
        reverse("account_login"),
        {"login": analyst.email, "password": "x"},
        REMOTE_ADDR="198.51.100.9",
    )
    auditor = make_member(Role.AUDITOR, utility=utility_a)
    auditor_client = type(client)()
    auditor_client.force_login(auditor)

    security = audit_list(auditor_client, utility_a, category="security").context["object_list"]
    assert {e.action for e in security} == {SecurityEvent.SIGN_IN_FAILED}
    assert {e.object_id for e in security} == {str(analyst.pk)}  # not the other utility's

    by_user = audit_list(auditor_client, utility_a, user=analyst.email).context["object_list"]
    assert len(by_user) == 2
    by_ip = audit_list(auditor_client, utility_a, ip="198.51.100.9").context["object_list"]
    assert [e.changes["ip"] for e in by_ip] == ["198.51.100.9"]
    by_action = audit_list(
        auditor_client, utility_a, category="security", action="sign_in_failed"
    ).context["object_list"]
    assert len(by_action) == 2


def test_a_malformed_address_filter_is_an_error_not_a_crash(client, utility_a):
    auditor = make_member(Role.AUDITOR, utility=utility_a)
    client.force_login(auditor)
    response = audit_list(client, utility_a, ip="not-an-address")
    assert list(response.context["object_list"]) == []
    assert "IP address" in response.content.decode()
