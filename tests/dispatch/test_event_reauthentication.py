"""Re-authentication before scheduling a real event: once the sign-in is more than a few
minutes old, "Schedule" waits for the password and then schedules; previewing and scheduling a
test event do not ask, and the form still opens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event
from portal.roles import Role
from tests.dispatch.events_support import open_program
from tests.portal.factories import make_member
from tests.portal.signing_in import asks_to_reauthenticate, make_sign_in_stale, reauthenticate

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()  # allauth counts confirmations in the cache
    yield
    cache.clear()


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    make_sign_in_stale(client)
    return client


def create_url(utility):
    return reverse("utility:event_create", args=[utility.slug])


def form(program, **fields):
    start = timezone.localtime(timezone.now() + timedelta(days=1), program.utility.tzinfo)
    return {
        "program": program.pk, "event_type": Event.Type.V2H_HOME_SUPPLY,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 90,
        "notification_lead_minutes": 60, "randomize_start_minutes": 0, "target_kw": "",
        "priority": 0, **fields,
    }  # fmt: skip


def events():
    with scopes_disabled():
        return list(Event.objects.all())


def test_scheduling_a_real_event_waits_for_the_password(operator, utility_a):
    program = open_program(utility_a)
    assert operator.get(create_url(utility_a)).status_code == 200

    response = operator.post(create_url(utility_a), {**form(program), "schedule": "1"})

    assert asks_to_reauthenticate(response, create_url(utility_a))
    assert events() == []
    done = reauthenticate(operator, response)
    [event] = events()
    assert done.status_code == 302
    assert done["Location"] == reverse("utility:event_detail", args=[utility_a.slug, event.pk])
    assert event.event_type == Event.Type.V2H_HOME_SUPPLY


def test_previewing_does_not_ask(operator, utility_a):
    program = open_program(utility_a)
    response = operator.post(create_url(utility_a), {**form(program), "preview": "1"})
    assert response.status_code == 200
    assert "Capacity at that time" in response.content.decode()


def test_scheduling_a_test_event_does_not_ask(operator, utility_a):
    program = open_program(utility_a)
    data = {**form(program, event_type=Event.Type.TEST), "schedule": "1"}
    response = operator.post(create_url(utility_a), data)
    [event] = events()
    assert response.status_code == 302
    assert event.event_type == Event.Type.TEST
