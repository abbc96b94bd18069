"""/api/v1/utilities: only the utilities a client may act in now, others do not exist."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from portal.api.pagination import StandardPagination
from portal.models import PartnerAgreement
from tests.portal.factories import AutomakerPartnerFactory, PartnerAgreementFactory, UtilityFactory

pytestmark = pytest.mark.django_db


def test_it_lists_the_clients_utilities_with_their_agreement(kestrel_api, utility_a):
    response = kestrel_api.get("/api/v1/utilities")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None and body["previous"] is None
    [alpha] = body["results"]
    assert alpha["slug"] == "alpha"
    assert alpha["name"] == "Alpha Power"
    assert alpha["time_zone"] == "America/Los_Angeles"
    assert alpha["agreement"]["status"] == "active"
    assert kestrel_api.get("/api/v1/utilities/alpha").json() == alpha


def test_it_hides_a_utility_outside_the_clients_reach(
    kestrel_api, issue_client, utility_a, utility_b, assert_api_error
):
    # Kestrel has an agreement with Bravo too, and another partner works in Bravo, but this
    # client was issued for Alpha only.
    issue_client("Kestrel Auto", utility_b.slug)
    PartnerAgreementFactory(utility=utility_b, partner=AutomakerPartnerFactory(name="Other"))

    listed = kestrel_api.get("/api/v1/utilities").json()
    assert [u["slug"] for u in listed["results"]] == ["alpha"]

    outside = kestrel_api.get("/api/v1/utilities/bravo")
    missing = kestrel_api.get("/api/v1/utilities/no-such-utility")
    assert_api_error(outside, 404, "not_found")
    assert_api_error(missing, 404, "not_found")
    strip = lambda body: {**body["error"], "request_id": None}  # noqa: E731
    assert strip(outside.json()) == strip(missing.json())


@pytest.mark.parametrize(
    "status", [PartnerAgreement.Status.ENDED, PartnerAgreement.Status.SUSPENDED]
)
def test_it_cuts_access_on_the_next_request_once_the_agreement_stops(
    kestrel_api, utility_a, status, assert_api_error
):
    assert kestrel_api.get("/api/v1/utilities/alpha").status_code == 200

    with scopes_disabled():
        PartnerAgreement.objects.filter(utility=utility_a).update(status=status)

    assert kestrel_api.get("/api/v1/utilities").json()["count"] == 0
    assert_api_error(kestrel_api.get("/api/v1/utilities/alpha"), 404, "not_found")
    assert kestrel_api.get("/api/v1/me").json()["utilities"] == []


def test_it_pages_the_list(issue_client, obtain_token, api_client):
    slugs = [UtilityFactory(name=f"Utility {n}", slug=f"u{n}").slug for n in range(5)]
    credentials = issue_client("Kestrel Auto", *slugs)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(credentials)}")

    first = api_client.get("/api/v1/utilities", {"page_size": 2}).json()
    assert first["count"] == 5
    assert [u["slug"] for u in first["results"]] == ["u0", "u1"]
    assert first["previous"] is None
    second = api_client.get(first["next"]).json()
    assert [u["slug"] for u in second["results"]] == ["u2", "u3"]
    assert second["previous"] is not None


def test_it_caps_the_page_size(issue_client, obtain_token, api_client, monkeypatch):
    assert StandardPagination.max_page_size == 1000
    monkeypatch.setattr(StandardPagination, "max_page_size", 2)  # rather than 1001 utilities
    slugs = [UtilityFactory().slug for _ in range(3)]
    api_client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {obtain_token(issue_client('Kestrel Auto', *slugs))}"
    )
    assert len(api_client.get("/api/v1/utilities", {"page_size": 5000}).json()["results"]) == 2


def test_it_lists_in_a_constant_number_of_queries(issue_client, obtain_token, api_client):
    def queries_to_list(count: int) -> int:
        slugs = [UtilityFactory().slug for _ in range(count)]
        credentials = issue_client(f"Partner of {count}", *slugs)
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {obtain_token(credentials)}")
        with CaptureQueriesContext(connection) as queries:
            response = api_client.get("/api/v1/utilities")
        assert response.json()["count"] == count
        return len(queries)

    assert queries_to_list(2) == queries_to_list(12)
