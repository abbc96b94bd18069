"""Event targeting: which vehicles an event targets (whole program, dispatch groups, feeders,
named vehicles), the checks when scheduling, the schedule form's targets and vehicle picker,
and the capacity preview over the chosen targets."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.models import Vehicle
from devices.vin import with_check_digit
from dispatch import selectors
from dispatch.models import Event
from dispatch.services.errors import TargetingError
from dispatch.services.events import schedule_event
from enrollment.models import Enrollment
from portal.models import AuditEvent
from portal.roles import Role
from tests.devices.factories import VehicleFactory
from tests.dispatch.events_support import make_event, open_program
from tests.dispatch.targeting_support import enrolled, make_group
from tests.portal.factories import UserFactory, make_member

pytestmark = pytest.mark.django_db

G, F, N, W = (
    Event.Targeting.GROUPS,
    Event.Targeting.FEEDERS,
    Event.Targeting.NAMED_VEHICLES,
    Event.Targeting.WHOLE_PROGRAM,
)
UNKNOWN_VIN = with_check_digit("1FTVW1EL0PW999999")


@pytest.fixture
def fleet(utility_a):
    """Program A with five enrolled vehicles on feeders F-1 / F-2, one of them excluded
    from events, one inactive, one with a suspended enrollment; plus a vehicle enrolled only
    in another program."""
    program = open_program(utility_a)
    other = open_program(utility_a, name="Other Program")
    rows = {
        "a": enrolled(program, feeder="F-1"),
        "b": enrolled(program, feeder="F-1"),
        "c": enrolled(program, feeder="F-2"),
        "excluded": enrolled(program, feeder="F-2", excluded_from_events=True),
        "suspended": enrolled(program, feeder="F-2", status=Enrollment.Status.SUSPENDED),
        "inactive": enrolled(program, feeder="F-1"),
        "elsewhere": enrolled(other, feeder="F-3"),
    }
    with scopes_disabled():
        Vehicle.objects.filter(pk=rows["inactive"].vehicle_id).update(
            status=Vehicle.Status.INACTIVE
        )
    return program, {k: e.vehicle for k, e in rows.items()}


def _targeted(program, **targets) -> set[int]:
    with scope(utility=program.utility_id):
        return set(
            selectors.targeted_vehicles(program=program, **targets).values_list("pk", flat=True)
        )


def _pks(vehicles, *names) -> set[int]:
    return {vehicles[n].pk for n in names}


# --- Selection --------------------------------------------------------------------------------


def test_it_targets_the_programs_dispatchable_vehicles(fleet):
    program, v = fleet
    assert _targeted(program, targeting=W) == _pks(v, "a", "b", "c")


def test_it_narrows_to_the_members_of_the_chosen_groups(fleet, utility_a):
    program, v = fleet
    depot = make_group(utility_a, vehicles=[v["a"], v["excluded"], v["elsewhere"]])
    pilot = make_group(utility_a, vehicles=[v["c"]])
    make_group(utility_a, vehicles=[v["b"]])  # not chosen
    assert _targeted(program, targeting=G, group_ids=[depot.pk]) == _pks(v, "a")
    assert _targeted(program, targeting=G, group_ids=[depot.pk, pilot.pk]) == _pks(v, "a", "c")
    assert _targeted(program, targeting=G, group_ids=[]) == set()


def test_it_narrows_to_the_vehicles_on_the_chosen_feeders(fleet):
    program, v = fleet
    assert _targeted(program, targeting=F, feeders=["F-1"]) == _pks(v, "a", "b")
    assert _targeted(program, targeting=F, feeders=["F-2", "F-3"]) == _pks(v, "c")
    assert _targeted(program, targeting=F, feeders=[]) == set()


def test_it_narrows_to_the_named_vehicles_that_are_dispatchable(fleet):
    program, v = fleet
    named = [v["b"].pk, v["excluded"].pk, v["elsewhere"].pk]
    assert _targeted(program, targeting=N, vehicle_ids=named) == _pks(v, "b")


def test_it_never_targets_another_utilitys_group_or_vehicle(fleet, utility_b):
    program, v = fleet
    theirs = open_program(utility_b)
    their_vehicle = enrolled(theirs, feeder="F-1").vehicle
    # Another utility's group, even holding this utility's vehicle, matches nothing here.
    their_group = make_group(utility_b, vehicles=[their_vehicle, v["a"]])
    assert _targeted(program, targeting=G, group_ids=[their_group.pk]) == set()
    assert _targeted(program, targeting=N, vehicle_ids=[their_vehicle.pk]) == set()
    assert _targeted(program, targeting=F, feeders=["F-1"]) == _pks(v, "a", "b")


def test_it_refuses_an_unknown_targeting(fleet):
    program, _ = fleet
    with pytest.raises(ValueError, match="Unknown targeting"):
        _targeted(program, targeting="everyone")


@pytest.mark.parametrize("targeting", [W, G, F, N])
def test_it_selects_an_events_targets_in_one_query(
    fleet, utility_a, targeting, django_assert_num_queries
):
    program, v = fleet
    group = make_group(utility_a, vehicles=[v["a"], v["c"]])
    event = make_event(program=program, targeting=targeting, feeders=["F-1"])
    with scopes_disabled():
        event.groups.set([group])
        event.vehicles.set([v["b"], v["c"]])
    expected = {
        W: _pks(v, "a", "b", "c"),
        G: _pks(v, "a", "c"),
        F: _pks(v, "a", "b"),
        N: _pks(v, "b", "c"),
    }[targeting]
    with scope(utility=utility_a.pk), django_assert_num_queries(1):
        assert {x.pk for x in selectors.targeted_vehicles_for_event(event)} == expected


def test_it_previews_the_capacity_of_the_targeted_vehicles_only(utility_a):
    program = open_program(utility_a, discharge_soc_floor_pct=20)
    on_f1 = [enrolled(program, feeder="F-1", soc_pct=80) for _ in range(2)]
    enrolled(program, feeder="F-2", soc_pct=80)
    group = make_group(utility_a, vehicles=[on_f1[0].vehicle])

    def preview(**targets):
        with scope(utility=utility_a.pk):
            return selectors.capacity_preview(
                program=program, starts_at=timezone.now() + timedelta(hours=1),
                duration_minutes=120, event_type=Event.Type.V2H_HOME_SUPPLY, **targets,
            )  # fmt: skip

    each = 9.6  # the charger's approved export; 60% of 131 kWh lasts the two hours
    assert preview()["vehicles"] == 3
    assert preview(targeting=F, feeders=["F-1"]) == {
        "vehicles": 2, "kw": 2 * each, "kwh": 4 * each,
    }  # fmt: skip
    assert preview(targeting=G, group_ids=[group.pk])["kw"] == each
    assert preview(targeting=N, vehicle_ids=[on_f1[1].vehicle.pk])["vehicles"] == 1
    assert preview(targeting=F, feeders=["F-9"])["vehicles"] == 0


def test_it_lists_the_programs_feeders_with_their_dispatchable_vehicles(fleet, utility_b):
    program, _ = fleet
    enrolled(open_program(utility_b), feeder="F-B")
    with scope(utility=program.utility_id):
        assert selectors.feeder_counts(program=program) == [("F-1", 2), ("F-2", 1)]
        assert selectors.feeder_counts() == [("F-1", 2), ("F-2", 1), ("F-3", 1)]


# --- Scheduling -------------------------------------------------------------------------------


def _schedule(program, **kwargs):
    args = {
        "utility": program.utility, "program": program, "event_type": Event.Type.V2H_HOME_SUPPLY,
        "starts_at": timezone.now() + timedelta(days=1), "duration_minutes": 60,
        "actor": UserFactory(),
    }  # fmt: skip
    with scope(utility=program.utility_id):
        return schedule_event(**{**args, **kwargs})


def _audit_targets(event) -> dict:
    with scopes_disabled():
        row = AuditEvent.objects.get(action="event.scheduled", object_id=str(event.pk))
    return row.changes["targets"]


def test_it_schedules_an_event_for_groups_and_records_them(fleet, utility_a):
    program, v = fleet
    group = make_group(utility_a, name="Depot", vehicles=[v["a"]])
    event = _schedule(program, targeting=G, group_ids=[group.pk, group.pk])
    with scopes_disabled():
        assert list(event.groups.all()) == [group]
    assert event.targeting == G
    assert _audit_targets(event) == {"targeting": G, "group_ids": [group.pk], "groups": ["Depot"]}


def test_it_refuses_groups_that_are_missing_empty_or_another_utilitys(fleet, utility_a, utility_b):
    program, _ = fleet
    empty = make_group(utility_a, name="Empty", vehicles=[])
    theirs = make_group(utility_b)
    cases = [
        ([], "Choose at least one dispatch group"),
        ([empty.pk], "These groups have no vehicles: Empty"),
        ([theirs.pk], f"Unknown dispatch group: #{theirs.pk}"),
    ]
    for group_ids, message in cases:
        with pytest.raises(TargetingError, match=message) as refused:
            _schedule(program, targeting=G, group_ids=group_ids)
        assert refused.value.details["field"] == "groups"
    with scopes_disabled():
        assert not Event.objects.exists()


def test_it_schedules_an_event_for_known_feeders_only(fleet):
    program, _ = fleet
    event = _schedule(program, targeting=F, feeders=[" F-2", "F-1", "F-1"])
    assert event.feeders == ["F-1", "F-2"]
    assert _audit_targets(event) == {"targeting": F, "feeders": ["F-1", "F-2"]}
    with pytest.raises(TargetingError, match="Choose at least one feeder"):
        _schedule(program, targeting=F, feeders=["  "])
    # F-3 serves an account of another program only.
    with pytest.raises(TargetingError, match=r"feeders F-3, F-9\.") as refused:
        _schedule(program, targeting=F, feeders=["F-1", "F-3", "F-9"])
    assert refused.value.details["field"] == "feeders"


def test_it_schedules_named_vehicles_and_lists_the_vins_it_refuses(fleet, utility_b):
    program, v = fleet
    event = _schedule(program, vehicle_ids=[v["a"].pk, v["b"].pk])  # named, by default
    assert event.targeting == N
    with scopes_disabled():
        assert set(event.vehicles.values_list("pk", flat=True)) == _pks(v, "a", "b")
    assert _audit_targets(event) == {
        "targeting": N, "vehicles": 2, "vins": sorted([v["a"].vin, v["b"].vin]),
    }  # fmt: skip
    foreign = VehicleFactory(utility=utility_b)
    refused_ids = [v["a"].pk, v["elsewhere"].pk, v["excluded"].pk, v["inactive"].pk, foreign.pk]
    with pytest.raises(TargetingError) as refused:
        _schedule(program, targeting=N, vehicle_ids=refused_ids)
    message = refused.value.message
    assert message.startswith("4 named vehicles cannot be dispatched")
    assert f"{v['elsewhere'].vin} (not actively enrolled in the program)" in message
    assert f"{v['excluded'].vin} (excluded from events (medical need))" in message
    assert f"{v['inactive'].vin} (the vehicle is inactive)" in message
    # Another utility's vehicle is unknown here: its VIN is never shown.
    assert f"vehicle #{foreign.pk} (no vehicle with this VIN)" in message
    assert foreign.vin not in message
    assert v["a"].vin not in message


def test_it_refuses_targets_of_another_kind_than_the_targeting(fleet, utility_a):
    program, v = fleet
    group = make_group(utility_a, vehicles=[v["a"]])
    with pytest.raises(TargetingError, match="dispatch groups were also given"):
        _schedule(program, targeting=W, group_ids=[group.pk])
    with pytest.raises(TargetingError, match="feeders and named vehicles"):
        _schedule(program, targeting=G, group_ids=[group.pk], feeders=["F-1"], vehicle_ids=[1])
    with pytest.raises(TargetingError, match="not a kind of targeting"):
        _schedule(program, targeting="everyone")


def test_it_describes_an_events_targets(fleet, utility_a):
    program, v = fleet
    day = timezone.now() + timedelta(days=1)
    groups = [make_group(utility_a, name=n, vehicles=[v["a"]]) for n in ("Pilot", "Depot")]
    by_groups = _schedule(program, targeting=G, group_ids=[g.pk for g in groups], starts_at=day)
    named = _schedule(
        program, targeting=N, vehicle_ids=[v["a"].pk, v["b"].pk, v["c"].pk],
        starts_at=day + timedelta(days=1),
    )  # fmt: skip
    by_feeder = make_event(program=program, targeting=F, feeders=["F-2"])
    whole = make_event(program=program)
    with scope(utility=utility_a.pk):
        assert selectors.targets_display(by_groups) == "Groups: Depot, Pilot"
        assert selectors.targets_display(by_feeder) == "Feeder: F-2"
        assert selectors.targets_display(whole) == "Whole program"
        text = selectors.targets_display(named)
    vins = sorted(x.vin for x in (v["a"], v["b"], v["c"]))
    assert text == f"3 named vehicles: {', '.join(vins)}"


def test_it_shortens_a_long_list_of_named_vehicles(utility_a, monkeypatch):
    program = open_program(utility_a)
    vehicles = [enrolled(program).vehicle for _ in range(4)]
    event = _schedule(program, targeting=N, vehicle_ids=[x.pk for x in vehicles])
    monkeypatch.setattr(selectors, "MAX_LISTED_TARGETS", 2)
    with scope(utility=utility_a.pk):
        text = selectors.targets_display(event)
    first = sorted(x.vin for x in vehicles)[:2]
    assert text == f"4 named vehicles: {first[0]}, {first[1]} and 2 more"


# --- The schedule form ------------------------------------------------------------------------


@pytest.fixture
def operator(client, utility_a):
    client.force_login(make_member(Role.DR_OPERATOR, utility=utility_a))
    return client


def _url(utility):
    return reverse("utility:event_create", args=[utility.slug])


def _form(program, **fields):
    start = timezone.localtime(timezone.now() + timedelta(days=1), program.utility.tzinfo)
    return {
        "program": program.pk, "event_type": Event.Type.V2H_HOME_SUPPLY,
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "duration_minutes": 60,
        "notification_lead_minutes": 60, "randomize_start_minutes": 0, "target_kw": "",
        "priority": 0, "targeting": W, **fields,
    }  # fmt: skip


def test_it_offers_only_this_utilitys_groups_and_the_programs_feeders(
    operator, fleet, utility_a, utility_b
):
    program, v = fleet
    make_group(utility_a, name="Depot", vehicles=[v["a"], v["b"]])
    make_group(utility_b, name="Bravo Secret Group")
    enrolled(open_program(utility_b), feeder="BRAVO-FEEDER")
    body = operator.get(_url(utility_a) + f"?program={program.pk}").content.decode()
    assert "Depot (2 vehicles)" in body
    assert "F-1 (2 vehicles)" in body and "F-2 (1 vehicle)" in body
    assert "F-3" not in body  # another program's feeder
    assert "Bravo Secret Group" not in body and "BRAVO-FEEDER" not in body


def test_it_schedules_for_groups_from_the_form(operator, fleet, utility_a):
    program, v = fleet
    group = make_group(utility_a, vehicles=[v["a"]])
    data = _form(program, targeting=G, groups=[group.pk], schedule="1")
    response = operator.post(_url(utility_a), data)
    assert response.status_code == 302
    with scopes_disabled():
        event = Event.objects.get()
        assert (event.targeting, list(event.groups.all())) == (G, [group])


def test_it_takes_vins_in_any_case_with_duplicates_and_previews_them(operator, fleet, utility_a):
    program, v = fleet
    text = f"{v['a'].vin.lower()}, {v['b'].vin}\n\n{v['a'].vin}"
    response = operator.post(_url(utility_a), _form(program, targeting=N, vins=text, preview="1"))
    body = response.content.decode()
    assert response.status_code == 200, body
    assert "Targeted vehicles</dt><dd>2<" in body
    operator.post(_url(utility_a), _form(program, targeting=N, vins=text, schedule="1"))
    with scopes_disabled():
        event = Event.objects.get()
        assert set(event.vehicles.values_list("pk", flat=True)) == _pks(v, "a", "b")


def test_it_explains_each_vin_it_cannot_use(operator, fleet, utility_a, utility_b):
    program, v = fleet
    foreign = VehicleFactory(utility=utility_b)
    text = "\n".join([v["a"].vin, v["elsewhere"].vin, v["excluded"].vin, UNKNOWN_VIN, foreign.vin])
    response = operator.post(_url(utility_a), _form(program, targeting=N, vins=text, schedule="1"))
    body = response.content.decode()
    assert response.status_code == 200
    assert f"{v['elsewhere'].vin}: not actively enrolled in the program" in body
    assert f"{v['excluded'].vin}: excluded from events (medical need)" in body
    assert f"{UNKNOWN_VIN}: no vehicle with this VIN" in body
    assert f"{foreign.vin}: no vehicle with this VIN" in body
    assert f"{v['a'].vin}:" not in body
    wrong_check_digit = UNKNOWN_VIN[:8] + ("1" if UNKNOWN_VIN[8] == "0" else "0") + UNKNOWN_VIN[9:]
    malformed = operator.post(
        _url(utility_a),
        _form(program, targeting=N, vins=f"abc\n{wrong_check_digit}", schedule="1"),
    ).content.decode()
    assert "ABC: A VIN has 17 characters; got 3." in malformed
    assert "Check digit mismatch" in malformed
    with scopes_disabled():
        assert not Event.objects.exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"targeting": G}, "Choose at least one dispatch group."),
        ({"targeting": F}, "Choose at least one feeder."),
        ({"targeting": N}, "Name at least one vehicle."),
        ({"targeting": F, "feeders": ["F-3"]}, "is on feeder F-3."),
        ({"targeting": W, "feeders": ["F-1"]}, "feeders were also given"),
        ({"targeting": "everyone"}, "Select a valid choice."),
        ({"targeting": G, "groups": ["999999"]}, "Select a valid choice."),
    ],
)
def test_it_shows_bad_targets_as_form_errors(operator, fleet, utility_a, fields, message):
    program, _ = fleet
    response = operator.post(_url(utility_a), _form(program, **fields, schedule="1"))
    assert response.status_code == 200
    assert message in response.content.decode()
    with scopes_disabled():
        assert not Event.objects.exists()


def test_it_refuses_another_utilitys_group_on_the_form(operator, fleet, utility_b):
    program, _ = fleet
    theirs = make_group(utility_b)
    response = operator.post(
        _url(program.utility), _form(program, targeting=G, groups=[theirs.pk], schedule="1")
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    with scopes_disabled():
        assert not Event.objects.exists()


def test_it_finds_vehicles_and_adds_the_ticked_ones_without_losing_the_form(
    operator, fleet, utility_a
):
    program, v = fleet
    groups = [make_group(utility_a, vehicles=[v["a"]]) for _ in range(2)]
    base = _form(program, duration_minutes=45, vins=v["c"].vin, groups=[g.pk for g in groups])
    found = operator.post(
        _url(utility_a), {**base, "vehicle_query": v["a"].vin[-6:].lower(), "find_vehicles": "1"}
    ).content.decode()
    assert f'value="{v["a"].vin}"' in found  # a pick box
    assert v["excluded"].vin not in found
    assert 'value="45"' in found  # what was entered is kept
    for group in groups:
        assert re.search(rf'value="{group.pk}"[^>]*checked', found)
    assert "errorlist" not in found  # nothing judged yet
    added = operator.post(
        _url(utility_a), {**base, "pick": [v["a"].vin], "add_vehicles": "1"}
    ).content.decode()
    assert f"{v['c'].vin}\n{v['a'].vin}</textarea>" in added
    assert re.search(rf'value="{N}"[^>]*checked', added)
    with scope(utility=utility_a.pk):
        by_account = selectors.search_dispatchable_vehicles(
            program=program, query=v["b"].service_account.account_number
        )
    assert [x.pk for x in by_account] == [v["b"].pk]


def test_it_asks_for_a_program_before_finding_vehicles(operator, fleet, utility_a):
    program, v = fleet
    body = operator.post(
        _url(utility_a),
        {**_form(program), "program": "", "vehicle_query": "1FT", "find_vehicles": "1"},
    ).content.decode()
    assert "Choose a program first." in body
