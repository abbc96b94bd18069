"""Installers see only their company's applications (in utilities they are approved in);
AHJ reviewers only applications assigned to their jurisdiction. Anything else is 404."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scopes_disabled

from portal.models import InstallerApproval
from portal.roles import Role
from tests.interconnection.factories import draft, make_site, walk
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_sites(utility_a, utility_b):
    mine = make_site(utility_a, label="Mine")
    theirs = make_site(utility_b, label="Theirs")
    return mine, theirs


def _installer_routes(org_slug, pk, doc_pk):
    return [
        ("get", reverse("installer_interconnection_detail", args=[org_slug, pk])),
        ("post", reverse("installer_interconnection_detail", args=[org_slug, pk])),
        ("post", reverse("installer_interconnection_documents", args=[org_slug, pk])),
        ("post", reverse("installer_interconnection_answer", args=[org_slug, pk])),
        ("post", reverse("installer_interconnection_act", args=[org_slug, pk])),
        ("get", reverse("installer_interconnection_document", args=[org_slug, pk, doc_pk])),
    ]


def test_it_hides_another_companys_application_from_an_installer(client, two_sites):
    mine, theirs = two_sites
    my_app, their_app = draft(mine), draft(theirs)
    with scopes_disabled():
        my_doc, their_doc = my_app.documents.first(), their_app.documents.first()
    client.force_login(mine.installer_user)
    slug = mine.installer.slug
    for method, url in _installer_routes(slug, their_app.pk, their_doc.pk):
        assert getattr(client, method)(url).status_code == 404, url
    # Under the other company's slug: not a member, so 404 too.
    for method, url in _installer_routes(theirs.installer.slug, their_app.pk, their_doc.pk):
        assert getattr(client, method)(url).status_code == 404, url
    assert client.get(_installer_routes(slug, my_app.pk, my_doc.pk)[0][1]).status_code == 200


def test_it_hides_another_companys_documents_from_an_installer(client, two_sites):
    mine, theirs = two_sites
    my_app, their_app = draft(mine), draft(theirs)
    with scopes_disabled():
        their_doc = their_app.documents.first()
        my_doc = my_app.documents.first()
    client.force_login(mine.installer_user)
    slug = mine.installer.slug
    # Their document addressed through my own application is 404 as well.
    url = reverse("installer_interconnection_document", args=[slug, my_app.pk, their_doc.pk])
    assert client.get(url).status_code == 404
    ok = client.get(
        reverse("installer_interconnection_document", args=[slug, my_app.pk, my_doc.pk])
    )
    assert ok.status_code == 200
    assert ok["Content-Type"] == "application/pdf"
    assert ok["Content-Disposition"].startswith("attachment")


def test_it_lists_only_the_installers_own_applications(client, two_sites):
    mine, theirs = two_sites
    draft(mine), draft(theirs)
    client.force_login(mine.installer_user)
    body = client.get(
        reverse("installer_interconnection_list", args=[mine.installer.slug])
    ).content.decode()
    assert "Mine Marker Customer" in body
    assert "Theirs Marker Customer" not in body


def test_it_stops_showing_applications_in_a_utility_that_withdrew_the_approval(client, two_sites):
    mine, _ = two_sites
    app = draft(mine)
    with scopes_disabled():
        InstallerApproval.objects.filter(installer=mine.installer).update(active=False)
    client.force_login(mine.installer_user)
    url = reverse("installer_interconnection_detail", args=[mine.installer.slug, app.pk])
    assert client.get(url).status_code == 404


def test_it_offers_an_installer_only_utilities_it_is_approved_in(client, two_sites):
    mine, theirs = two_sites
    client.force_login(mine.installer_user)
    url = reverse("installer_interconnection_new", args=[mine.installer.slug])
    body = client.get(url).content.decode()
    assert mine.utility.name in body and theirs.utility.name not in body
    # Posting the other utility (and its customer) is refused, not created.
    response = client.post(
        url,
        {
            "utility": theirs.utility.pk,
            "account_number": theirs.account.account_number,
            "zip_code": theirs.account.zip_code,
            "configuration": "v2g",
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert (
        client.get(
            reverse("installer_interconnection_new", args=[theirs.installer.slug])
        ).status_code
        == 404
    )


def test_it_lists_only_the_ahjs_jurisdiction(client, two_sites):
    mine, theirs = two_sites
    walk(mine, draft(mine), to="submitted")
    walk(theirs, draft(theirs), to="submitted")
    draft(mine, documents=False)  # drafts stay the installer's own
    client.force_login(mine.ahj_user)
    body = client.get(reverse("ahj_interconnection_list", args=[mine.ahj.slug])).content.decode()
    assert mine.utility.name in body
    assert theirs.utility.name not in body
    assert body.count("IC-") == 1


def test_it_hides_another_jurisdictions_application_from_an_ahj(client, two_sites):
    mine, theirs = two_sites
    mine_app = walk(mine, draft(mine), to="submitted")
    their_app = walk(theirs, draft(theirs), to="submitted")
    with scopes_disabled():
        their_doc = their_app.documents.first()
    client.force_login(mine.ahj_user)
    slug = mine.ahj.slug
    for method, url in [
        ("get", reverse("ahj_interconnection_detail", args=[slug, their_app.pk])),
        ("post", reverse("ahj_interconnection_act", args=[slug, their_app.pk])),
        ("get", reverse("ahj_interconnection_document", args=[slug, their_app.pk, their_doc.pk])),
        ("get", reverse("ahj_interconnection_detail", args=[theirs.ahj.slug, their_app.pk])),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    assert (
        client.get(reverse("ahj_interconnection_detail", args=[slug, mine_app.pk])).status_code
        == 200
    )
    # An installer is not an AHJ reviewer, and an AHJ reviewer is not an installer.
    client.force_login(mine.installer_user)
    assert (
        client.get(reverse("ahj_interconnection_detail", args=[slug, mine_app.pk])).status_code
        == 404
    )


def test_it_hides_a_draft_from_the_ahj_and_the_utility(client, two_sites):
    mine, _ = two_sites
    app = draft(mine)
    client.force_login(mine.ahj_user)
    assert (
        client.get(reverse("ahj_interconnection_detail", args=[mine.ahj.slug, app.pk])).status_code
        == 404
    )
    client.force_login(mine.engineer)
    url = reverse("utility:interconnection_detail", args=[mine.utility.slug, app.pk])
    assert client.get(url).status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(client, two_sites):
    mine, _ = two_sites
    response = client.get(reverse("installer_interconnection_list", args=[mine.installer.slug]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_it_forbids_permit_decisions_without_the_capability(client, two_sites, utility_a):
    """An installer admin of the same company cannot use AHJ pages; a utility auditor can
    read the queue but not decide."""
    mine, _ = two_sites
    app = walk(mine, draft(mine), to="submitted")
    auditor = make_member(Role.AUDITOR, utility=utility_a)
    client.force_login(auditor)
    assert (
        client.get(
            reverse("utility:interconnection_detail", args=[utility_a.slug, app.pk])
        ).status_code
        == 200
    )
    response = client.post(
        reverse("utility:interconnection_act", args=[utility_a.slug, app.pk]),
        {"action": "acknowledge"},
    )
    assert response.status_code == 403


@pytest.fixture
def render_scopes():
    """The django-scopes state each template was rendered in."""
    from django.test.signals import template_rendered
    from django_scopes import get_scope

    seen: dict[str, dict] = {}

    def record(sender, template, **kwargs):
        seen.setdefault(template.name, dict(get_scope()))

    template_rendered.connect(record)
    yield seen
    template_rendered.disconnect(record)


@pytest.mark.parametrize("party", ["installer", "ahj"])
def test_a_cross_utility_list_renders_with_scopes_enabled(client, two_sites, party, render_scopes):
    """Only the list's query reads across utilities; the page itself renders where an
    unscoped query raises, so nothing a template touches can leak another tenant's rows."""
    mine, theirs = two_sites
    walk(mine, draft(mine), to="submitted")
    walk(theirs, draft(theirs), to="submitted")
    if party == "installer":
        client.force_login(mine.installer_user)
        url, template = (
            reverse("installer_interconnection_list", args=[mine.installer.slug]),
            ("interconnection/installer_list.html"),
        )
        other_url = reverse("installer_interconnection_list", args=[theirs.installer.slug])
    else:
        client.force_login(mine.ahj_user)
        url, template = (
            reverse("ahj_interconnection_list", args=[mine.ahj.slug]),
            ("interconnection/ahj_queue.html"),
        )
        other_url = reverse("ahj_interconnection_list", args=[theirs.ahj.slug])
    body = client.get(url).content.decode()
    assert "Mine Marker" in body and "Theirs Marker" not in body
    assert render_scopes[template].get("_enabled", True) is True
    # Another organization's list (another tenant's applications) does not exist for them.
    assert client.get(other_url).status_code == 404
