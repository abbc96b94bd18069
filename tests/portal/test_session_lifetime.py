"""Sessions end after ``SESSION_IDLE_TIMEOUT_MINUTES`` without a request and
``SESSION_ABSOLUTE_HOURS`` after signing in however busy; the person is signed out, told why
on the sign-in page, and the end is a security event."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from portal.identity import sessions
from portal.identity.services.security_events import SecurityEvent
from portal.models import AuditEvent
from portal.roles import Role
from tests.portal.factories import make_member
from tests.portal.signing_in import sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst_client(client, utility_a):
    client.force_login(make_member(Role.PROGRAM_ANALYST, utility=utility_a))
    return client


def dashboard(utility) -> str:
    return reverse("utility:dashboard", kwargs={"utility_slug": utility.slug})


def shift_clock(client, *, started_ago: float, last_seen_ago: float) -> None:
    session = client.session
    now = time.time()
    session[sessions.STARTED_AT_SESSION_KEY] = now - started_ago
    session[sessions.LAST_SEEN_AT_SESSION_KEY] = now - last_seen_ago
    session.save()


def expired_rows():
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=SecurityEvent.SESSION_EXPIRED))


def test_signing_in_starts_both_clocks(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    before = time.time()
    sign_in(client, user.email)
    session = client.session
    assert session[sessions.STARTED_AT_SESSION_KEY] >= before
    assert session[sessions.LAST_SEEN_AT_SESSION_KEY] >= before


def test_an_idle_session_is_signed_out_and_told_why(analyst_client, utility_a):
    shift_clock(analyst_client, started_ago=40 * 60, last_seen_ago=31 * 60)

    response = analyst_client.get(dashboard(utility_a))

    login = reverse("account_login") + "?next=" + dashboard(utility_a)
    assert response.status_code == 302 and response.url == login
    assert "_auth_user_id" not in analyst_client.session
    page = analyst_client.get(response.url).content.decode()
    assert "signed out after 30 minutes without activity" in page
    [row] = expired_rows()
    assert row.changes["reason"] == sessions.IDLE


def test_a_busy_session_still_ends_at_its_absolute_lifetime(analyst_client, utility_a):
    shift_clock(analyst_client, started_ago=12 * 3600 + 60, last_seen_ago=10)

    response = analyst_client.get(dashboard(utility_a))

    assert response.status_code == 302
    assert "_auth_user_id" not in analyst_client.session
    page = analyst_client.get(response.url).content.decode()
    assert "sessions last at most 12 hours" in page
    [row] = expired_rows()
    assert row.changes["reason"] == sessions.ABSOLUTE


def test_an_active_session_carries_on_and_its_idle_clock_restarts(analyst_client, utility_a):
    shift_clock(analyst_client, started_ago=3 * 3600, last_seen_ago=29 * 60)

    assert analyst_client.get(dashboard(utility_a)).status_code == 200

    last_seen = analyst_client.session[sessions.LAST_SEEN_AT_SESSION_KEY]
    assert time.time() - last_seen < 60
    assert expired_rows() == []


def test_the_limits_are_settings(analyst_client, utility_a, settings):
    settings.SESSION_IDLE_TIMEOUT_MINUTES = 5
    shift_clock(analyst_client, started_ago=600, last_seen_ago=6 * 60)
    response = analyst_client.get(dashboard(utility_a))
    assert response.status_code == 302
    page = analyst_client.get(response.url).content.decode()
    assert "signed out after 5 minutes without activity" in page


def test_a_form_post_after_the_timeout_is_not_carried_out(analyst_client, utility_a):
    shift_clock(analyst_client, started_ago=3600, last_seen_ago=3600)
    url = reverse("utility:member_list", kwargs={"utility_slug": utility_a.slug})
    response = analyst_client.post(url, {"email": "x@example.test", "role": "auditor"})
    assert response.status_code == 302
    assert response.url == reverse("account_login") + "?next=/"


def test_a_session_from_before_the_clocks_starts_them(analyst_client, utility_a):
    session = analyst_client.session
    for key in (sessions.STARTED_AT_SESSION_KEY, sessions.LAST_SEEN_AT_SESSION_KEY):
        session.pop(key, None)
    session.save()
    assert analyst_client.get(dashboard(utility_a)).status_code == 200
    assert sessions.STARTED_AT_SESSION_KEY in analyst_client.session
