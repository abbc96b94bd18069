"""Queue and report pages: constant query counts, filters, CSV; bad input never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.interconnection.factories import draft, make_site, walk

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(utility_a):
    return make_site(utility_a)


def _queue(slug, query=""):
    return reverse("utility:interconnection_queue", args=[slug]) + query


def test_the_queue_runs_the_same_queries_for_3_or_12_applications(
    client, site, django_assert_max_num_queries
):
    for _ in range(3):
        walk(site, draft(site), to="submitted")
    client.force_login(site.engineer)
    with django_assert_max_num_queries(12) as few:
        assert client.get(_queue(site.utility.slug)).status_code == 200
    for _ in range(9):
        walk(site, draft(site), to="submitted")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(_queue(site.utility.slug))
    assert response.content.decode().count("IC-") >= 12


def test_the_queue_filters_and_ignores_nonsense(client, site):
    from django_scopes import scopes_disabled

    from enrollment.interconnection.models import InterconnectionPolicy

    with scopes_disabled():  # acknowledgement due in 1 business day: inside the warning window
        InterconnectionPolicy.objects.create(
            utility=site.utility, sla_business_days={"acknowledgement": 1}
        )
    walk(site, draft(site), to="submitted")
    client.force_login(site.engineer)
    for query in (
        "?status=nonsense",
        "?sla=due_soon",
        "?sla=breached",
        "?mine=1",
        "?page=999",
        "?page=x",
    ):
        assert client.get(_queue(site.utility.slug, query)).status_code in (200, 404), query
    assert "IC-" in client.get(_queue(site.utility.slug, "?sla=due_soon")).content.decode()
    assert "IC-" not in client.get(_queue(site.utility.slug, "?sla=breached")).content.decode()


def test_the_report_and_its_csv(client, site, django_assert_max_num_queries):
    walk(site, draft(site), to="pto")
    client.force_login(site.engineer)
    with django_assert_max_num_queries(14):
        response = client.get(reverse("utility:interconnection_report", args=[site.utility.slug]))
    body = response.content.decode()
    assert "<svg" in body and "Submission to PTO" in body and site.installer.name in body
    csv_body = client.get(
        reverse("utility:interconnection_report_csv", args=[site.utility.slug])
    ).content.decode()
    assert "first_pass," + site.installer.name + ",rate_pct,100.0" in csv_body


def test_bad_posts_get_a_clear_message_not_an_error(client, site):
    app = walk(site, draft(site), to="submitted")
    client.force_login(site.engineer)
    url = reverse("utility:interconnection_act", args=[site.utility.slug, app.pk])
    for data in ({}, {"action": "explode"}, {"action": "grant_pto", "approved_export_kw": "lots"},
                 {"action": "request_info", "expected": "submitted"}, {"action": "reject"}):  # fmt: skip
        response = client.post(url, data)
        assert response.status_code == 200, data
        assert 'role="alert"' in response.content.decode(), data


def test_an_oversize_upload_on_the_page_keeps_everything_else(client, site):
    from tests.interconnection.factories import big_file

    app = draft(site, documents=False)
    client.force_login(site.installer_user)
    url = reverse("installer_interconnection_documents", args=[site.installer.slug, app.pk])
    response = client.post(url, {"kind": "site_plan", "file": big_file(20 * 1024 * 1024 + 10)})
    assert response.status_code == 200
    assert "limit is 20 MB" in response.content.decode()
