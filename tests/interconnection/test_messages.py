"""Messages between the parties of an application: each party posts through its own page,
every party reads the thread, the other parties are emailed, a double click posts once, and
another company's / jurisdiction's application is 404."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from enrollment.interconnection import services
from enrollment.interconnection.models import ApplicationMessage
from portal.models import AuditEvent
from portal.roles import Role
from tests.interconnection.factories import draft, make_site, walk
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(utility_a):
    return make_site(utility_a, label="Mine")


@pytest.fixture
def submitted(site):
    return walk(site, draft(site), to="submitted")


def _urls(site, app) -> dict[str, tuple[str, str]]:
    """party → (detail url, message url)"""
    org = {"installer": site.installer.slug, "ahj": site.ahj.slug}
    urls = {
        party: (
            reverse(f"{party}_interconnection_detail", args=[slug, app.pk]),
            reverse(f"{party}_interconnection_message", args=[slug, app.pk]),
        )
        for party, slug in org.items()
    }
    urls["utility"] = (
        reverse("utility:interconnection_detail", args=[site.utility.slug, app.pk]),
        reverse("utility:interconnection_message", args=[site.utility.slug, app.pk]),
    )
    return urls


def _users(site) -> dict:
    return {"installer": site.installer_user, "utility": site.engineer, "ahj": site.ahj_user}


def _thread(app) -> list[ApplicationMessage]:
    with scopes_disabled():
        return list(ApplicationMessage.objects.filter(application=app))


def test_each_party_posts_and_every_party_reads_the_thread_oldest_first(client, site, submitted):
    urls, users = _urls(site, submitted), _users(site)
    for party in ("installer", "utility", "ahj"):
        client.force_login(users[party])
        response = client.post(urls[party][1], {"body": f"Hello from the {party} side"})
        assert response.status_code == 302, party
        assert response["Location"].endswith(urls[party][0] + "#messages")
    thread = _thread(submitted)
    assert [(m.party, m.author) for m in thread] == [
        ("installer", site.installer_user),
        ("utility", site.engineer),
        ("ahj", site.ahj_user),
    ]
    for party in ("installer", "utility", "ahj"):
        client.force_login(users[party])
        body = client.get(urls[party][0]).content.decode()
        assert 'id="messages"' in body
        positions = [
            body.index(f"Hello from the {p} side") for p in ("installer", "utility", "ahj")
        ]
        assert positions == sorted(positions), party
        assert site.engineer.email in body and site.ahj_user.email in body
        # Local (the utility's) time, with its zone.
        assert thread[0].created_at.astimezone(site.utility.tzinfo).strftime("%H:%M") in body


def test_it_emails_the_other_parties_and_audits(
    site, submitted, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with scope(utility=site.utility.pk), django_capture_on_commit_callbacks(execute=True):
        message = services.post_message(
            application=submitted, author=site.installer_user, party="installer",
            body="  Is the witness test needed?  ",
        )  # fmt: skip
    assert message.body == "Is the witness test needed?"
    recipients = {address for email in mail.outbox for address in email.to}
    assert {site.engineer.email, site.ahj_user.email} <= recipients
    assert site.installer_user.email not in recipients
    assert all("Is the witness test needed?" in email.body for email in mail.outbox)
    with scopes_disabled():
        message.refresh_from_db()
        assert message.notified_at is not None
        event = AuditEvent.objects.get(action="interconnection.message_posted")
        assert event.changes["message_id"] == message.pk
    # A redelivered task sends nothing twice.
    sent = len(mail.outbox)
    from enrollment.interconnection.tasks import notify_message

    notify_message.apply(kwargs={"utility_id": site.utility.pk, "message_id": message.pk})
    assert len(mail.outbox) == sent


def test_it_refuses_an_empty_or_too_long_message_and_keeps_the_text(client, site, submitted):
    _, message_url = _urls(site, submitted)["installer"]
    client.force_login(site.installer_user)
    response = client.post(message_url, {"body": "   "})
    assert response.status_code == 200
    assert "Write a message first." in response.content.decode()
    long_text = "Marker" + "x" * ApplicationMessage.MAX_LENGTH
    response = client.post(message_url, {"body": long_text})
    body = response.content.decode()
    assert response.status_code == 200
    assert "at most 4000 characters" in body
    assert long_text in body  # nothing lost: the text is back in the form
    assert _thread(submitted) == []
    with scope(utility=site.utility.pk), pytest.raises(services.InvalidInput):
        services.post_message(
            application=submitted, author=site.engineer, party="utility", body="y" * 4001
        )


def test_a_double_submit_posts_once(client, site, submitted):
    _, message_url = _urls(site, submitted)["ahj"]
    client.force_login(site.ahj_user)
    for _ in range(2):
        assert client.post(message_url, {"body": "Inspection Tuesday?"}).status_code == 302
    assert len(_thread(submitted)) == 1
    # A different text, or the same one later, is a new message.
    client.post(message_url, {"body": "Or Wednesday?"})
    with scopes_disabled():
        ApplicationMessage.objects.update(
            created_at=ApplicationMessage.objects.first().created_at - timedelta(seconds=11)
        )
    client.post(message_url, {"body": "Inspection Tuesday?"})
    assert [m.body for m in _thread(submitted)].count("Inspection Tuesday?") == 2
    assert len(_thread(submitted)) == 3


def test_a_utility_reader_sees_the_thread_but_cannot_post(client, site, submitted):
    with scope(utility=site.utility.pk):
        services.post_message(
            application=submitted, author=site.installer_user, party="installer", body="Hi"
        )
    detail_url, message_url = _urls(site, submitted)["utility"]
    client.force_login(make_member(Role.AUDITOR, utility=site.utility))
    body = client.get(detail_url).content.decode()
    assert "Hi" in body and message_url not in body
    assert client.post(message_url, {"body": "Not allowed"}).status_code == 403
    assert len(_thread(submitted)) == 1


def test_a_draft_has_no_thread_yet(client, site):
    app = draft(site)
    detail_url, message_url = _urls(site, app)["installer"]
    client.force_login(site.installer_user)
    assert message_url not in client.get(detail_url).content.decode()
    response = client.post(message_url, {"body": "Early"})
    assert response.status_code == 200
    assert "once the application is submitted" in response.content.decode()
    assert _thread(app) == []


def test_the_installer_list_counts_messages_and_flags_new_ones(client, site, submitted):
    list_url = reverse("installer_interconnection_list", args=[site.installer.slug])
    client.force_login(site.installer_user)
    body = client.get(list_url).content.decode()
    assert "new message" not in body
    with scope(utility=site.utility.pk):
        services.post_message(
            application=submitted, author=site.installer_user, party="installer", body="Q?"
        )
        assert "new message" not in client.get(list_url).content.decode()
        services.post_message(
            application=submitted, author=site.engineer, party="utility", body="A."
        )
    body = client.get(list_url).content.decode()
    assert "new message" in body
    assert '<td data-testid="message-count">2 ' in body
    with scope(utility=site.utility.pk):
        services.post_message(
            application=submitted, author=site.installer_user, party="installer", body="Thanks"
        )
    body = client.get(list_url).content.decode()
    assert "new message" not in body
    assert '<td data-testid="message-count">3</td>' in body


def test_the_installer_list_runs_the_same_queries_for_more_rows(
    client, site, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    list_url = reverse("installer_interconnection_list", args=[site.installer.slug])
    client.force_login(site.installer_user)
    app = walk(site, draft(site), to="submitted")
    with scope(utility=site.utility.pk):
        services.post_message(application=app, author=site.engineer, party="utility", body="1")
    with CaptureQueriesContext(connection) as one:
        client.get(list_url)
    for _ in range(3):
        app = walk(site, draft(site), to="submitted")
        with scope(utility=site.utility.pk):
            services.post_message(application=app, author=site.engineer, party="utility", body="n")
    with django_assert_max_num_queries(len(one.captured_queries)):
        client.get(list_url)


# --- Isolation (named in tests/interconnection/isolation_cases.py) ---------------------------


@pytest.fixture
def two_sites(utility_a, utility_b):
    return make_site(utility_a, label="Mine"), make_site(utility_b, label="Theirs")


def _seed(site, app, text):
    with scope(utility=site.utility.pk):
        services.post_message(application=app, author=site.engineer, party="utility", body=text)


def test_it_hides_another_companys_thread_from_an_installer(client, two_sites):
    mine, theirs = two_sites
    my_app = walk(mine, draft(mine), to="submitted")
    their_app = walk(theirs, draft(theirs), to="submitted")
    _seed(theirs, their_app, "Their secret thread")
    client.force_login(mine.installer_user)
    for slug in (mine.installer.slug, theirs.installer.slug):
        url = reverse("installer_interconnection_message", args=[slug, their_app.pk])
        assert client.post(url, {"body": "Let me in"}).status_code == 404, url
        detail = reverse("installer_interconnection_detail", args=[slug, their_app.pk])
        assert client.get(detail).status_code == 404
    assert [m.body for m in _thread(their_app)] == ["Their secret thread"]
    # An AHJ reviewer is not an installer.
    client.force_login(mine.ahj_user)
    url = reverse("installer_interconnection_message", args=[mine.installer.slug, my_app.pk])
    assert client.post(url, {"body": "x"}).status_code == 404
    client.force_login(mine.installer_user)
    assert client.post(url, {"body": "Mine"}).status_code == 302


def test_it_hides_another_jurisdictions_thread_from_an_ahj(client, two_sites):
    mine, theirs = two_sites
    my_app = walk(mine, draft(mine), to="submitted")
    their_app = walk(theirs, draft(theirs), to="submitted")
    _seed(theirs, their_app, "Their secret thread")
    client.force_login(mine.ahj_user)
    for slug in (mine.ahj.slug, theirs.ahj.slug):
        url = reverse("ahj_interconnection_message", args=[slug, their_app.pk])
        assert client.post(url, {"body": "Let me in"}).status_code == 404, url
    assert [m.body for m in _thread(their_app)] == ["Their secret thread"]
    client.force_login(mine.installer_user)
    url = reverse("ahj_interconnection_message", args=[mine.ahj.slug, my_app.pk])
    assert client.post(url, {"body": "x"}).status_code == 404
    client.force_login(mine.ahj_user)
    assert client.post(url, {"body": "Mine"}).status_code == 302


def test_a_utility_cannot_post_to_another_utilitys_application(client, two_sites):
    mine, theirs = two_sites
    their_app = walk(theirs, draft(theirs), to="submitted")
    client.force_login(mine.engineer)
    for slug in (mine.utility.slug, theirs.utility.slug):
        url = reverse("utility:interconnection_message", args=[slug, their_app.pk])
        assert client.post(url, {"body": "x"}).status_code == 404, url
    assert _thread(their_app) == []
