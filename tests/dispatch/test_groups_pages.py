"""Dispatch group pages: the list with member counts, a group's members, create and edit with
members by VIN (audited), per role and per utility."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from dispatch.models import DispatchGroup
from dispatch.services.errors import GroupError
from dispatch.services.groups import save_group
from dispatch.views import groups as group_views
from portal.models import AuditEvent
from portal.roles import Role
from tests.devices.factories import VehicleFactory
from tests.dispatch.targeting_support import make_group
from tests.portal.factories import make_member

pytestmark = pytest.mark.django_db


def _url(name, utility, *args):
    return reverse(f"utility:dispatch_group_{name}", args=[utility.slug, *args])


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _members(group) -> set[int]:
    with scopes_disabled():
        return set(group.vehicles.values_list("pk", flat=True))


def _audit(action) -> list[AuditEvent]:
    with scopes_disabled():
        return list(AuditEvent.objects.filter(action=action))


def test_it_lists_groups_with_counts_in_a_constant_number_of_queries(
    operator, utility_a, django_assert_max_num_queries
):
    make_group(utility_a, name="Depot")
    make_group(
        utility_a, name="Pilot", vehicles=[VehicleFactory(utility=utility_a) for _ in range(3)]
    )
    with django_assert_max_num_queries(12) as few:
        body = operator.get(_url("list", utility_a)).content.decode()
    assert "Depot" in body and "<td>3</td>" in body
    for i in range(10):
        make_group(utility_a, name=f"More {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        operator.get(_url("list", utility_a))


def test_it_creates_a_group_from_vins_in_any_case_and_records_it(operator, utility_a):
    a, b = VehicleFactory(utility=utility_a), VehicleFactory(utility=utility_a)
    data = {
        "name": "Depot 7",
        "description": "Fleet depot",
        "vins": f"{a.vin.lower()}, {b.vin}\n{a.vin}",
    }
    response = operator.post(_url("create", utility_a), data)
    with scopes_disabled():
        group = DispatchGroup.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("detail", utility_a, group.pk)
    assert (group.name, group.description, _members(group)) == (
        "Depot 7",
        "Fleet depot",
        {a.pk, b.pk},
    )
    (row,) = _audit("dispatch_group.created")
    assert row.changes["vehicles"] == 2
    assert row.changes["vins_added"] == sorted([a.vin, b.vin])
    assert row.changes["name"] == {"from": "", "to": "Depot 7"}


def test_it_refuses_vins_that_are_not_this_utilitys_vehicles(operator, utility_a, utility_b):
    mine, theirs = VehicleFactory(utility=utility_a), VehicleFactory(utility=utility_b)
    data = {"name": "Depot", "vins": f"{mine.vin}\n{theirs.vin}\nnot-a-vin"}
    body = operator.post(_url("create", utility_a), data).content.decode()
    assert "NOT-A-VIN: A VIN has 17 characters; got 9." in body
    data["vins"] = f"{mine.vin}\n{theirs.vin}"
    body = operator.post(_url("create", utility_a), data).content.decode()
    assert f"{theirs.vin}: no vehicle with this VIN" in body
    assert f"{mine.vin}:" not in body
    with scopes_disabled():
        assert not DispatchGroup.objects.exists()


def test_it_refuses_a_name_already_used_in_the_utility_only(operator, utility_a, utility_b):
    make_group(utility_a, name="Depot")
    make_group(utility_b, name="Pilot")
    body = operator.post(_url("create", utility_a), {"name": "Depot"}).content.decode()
    assert "There is already a group named “Depot”." in body
    assert operator.post(_url("create", utility_a), {"name": "Pilot"}).status_code == 302


def test_it_edits_name_and_members_and_records_the_difference(operator, utility_a):
    a, b, c = (VehicleFactory(utility=utility_a) for _ in range(3))
    group = make_group(utility_a, name="Depot", vehicles=[a, b])
    form = operator.get(_url("edit", utility_a, group.pk)).content.decode()
    assert f"{a.vin}\n{b.vin}" in form or f"{b.vin}\n{a.vin}" in form
    response = operator.post(
        _url("edit", utility_a, group.pk), {"name": "Depot North", "vins": f"{b.vin}\n{c.vin}"}
    )
    assert response.status_code == 302
    group.refresh_from_db()
    assert (group.name, _members(group)) == ("Depot North", {b.pk, c.pk})
    (row,) = _audit("dispatch_group.updated")
    assert row.changes["name"] == {"from": "Depot", "to": "Depot North"}
    assert (row.changes["vins_added"], row.changes["vins_removed"]) == ([c.vin], [a.vin])
    assert "description" not in row.changes


def test_it_pages_through_the_members(operator, utility_a, monkeypatch):
    monkeypatch.setattr(group_views, "MEMBERS_PER_PAGE", 2)
    vehicles = sorted((VehicleFactory(utility=utility_a) for _ in range(3)), key=lambda v: v.vin)
    group = make_group(utility_a, vehicles=vehicles)
    first = operator.get(_url("detail", utility_a, group.pk)).content.decode()
    second = operator.get(_url("detail", utility_a, group.pk) + "?page=2").content.decode()
    assert vehicles[0].vin in first and vehicles[2].vin not in first
    assert vehicles[2].vin in second and vehicles[0].vin not in second
    assert "Members (3)" in first
    assert operator.get(_url("detail", utility_a, group.pk) + "?page=zz").status_code == 200


def test_it_never_changes_another_utilitys_group(operator, utility_a, utility_b):
    theirs = make_group(utility_b, name="Theirs")
    response = operator.post(_url("edit", utility_a, theirs.pk), {"name": "Mine now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == "Theirs"


@pytest.mark.parametrize(
    ("role", "reads", "writes"),
    [
        (Role.DR_OPERATOR, 200, 200),
        (Role.PROGRAM_ANALYST, 200, 403),
        (Role.AUDITOR, 200, 403),
        (Role.CUSTOMER_SERVICE, 403, 403),
    ],
)
def test_it_lets_viewers_read_and_dispatchers_change(client, utility_a, role, reads, writes):
    client.force_login(make_member(role, utility=utility_a))
    group = make_group(utility_a, name="Depot")
    assert client.get(_url("list", utility_a)).status_code == reads
    assert client.get(_url("detail", utility_a, group.pk)).status_code == reads
    assert client.get(_url("create", utility_a)).status_code == writes
    assert client.get(_url("edit", utility_a, group.pk)).status_code == writes
    post = client.post(_url("edit", utility_a, group.pk), {"name": "Renamed"})
    assert post.status_code == (302 if writes == 200 else 403)


def test_the_service_refuses_another_utilitys_vehicle_and_a_blank_name(utility_a, utility_b):
    theirs = VehicleFactory(utility=utility_b)
    with scope(utility=utility_a.pk):
        with pytest.raises(GroupError, match="not vehicles of Alpha Power") as refused:
            save_group(utility=utility_a, name="Depot", vehicle_ids=[theirs.pk])
        assert refused.value.details == {"field": "vehicles", "vehicle_ids": [theirs.pk]}
        with pytest.raises(GroupError, match="Give the group a name"):
            save_group(utility=utility_a, name="  ")
    with scopes_disabled():
        assert not DispatchGroup.objects.exists()
