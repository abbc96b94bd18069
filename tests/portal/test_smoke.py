import pytest

from portal.roles import Role
from tests.customers.factories import ServiceAccountFactory
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def test_it_shows_the_dashboard_to_a_member(client, utility_a):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    ServiceAccountFactory(utility=utility_a)
    client.force_login(user)
    response = client.get("/u/alpha/")
    assert response.status_code == 200
    assert b"Alpha Power" in response.content


def test_it_hides_another_utility(client, utility_a, utility_b):
    user = make_member(Role.PROGRAM_ANALYST, utility=utility_a)
    client.force_login(user)
    assert client.get("/u/bravo/").status_code == 404
