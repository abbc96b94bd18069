"""The approved equipment list and the battery policies: everyone with VIEW_DEVICES reads
them, program admins (MANAGE_EQUIPMENT) change them, every change leaves an audit row, and
bad input (a partner from elsewhere, a duplicate pair, values out of range) is a form error."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django_scopes import scope, scopes_disabled

from devices.forms import ApprovedEquipmentForm
from devices.models import ApprovedEquipment, BatteryPolicy
from portal.models import AuditEvent
from portal.roles import Cap, Role
from tests.devices.factories import ApprovedEquipmentFactory, BatteryPolicyFactory, ChargerFactory
from tests.devices.isolation_cases import partner_in, signed_in
from tests.routes import all_routes

pytestmark = pytest.mark.django_db


def url(name, utility, *args):
    return reverse(f"utility:{name}", args=[utility.slug, *args])


def audit_rows(utility, action):
    with scopes_disabled():
        return list(AuditEvent.objects.filter(utility=utility, action=action))


def pairs(utility):
    with scope(utility=utility.pk):
        return list(ApprovedEquipment.objects.all())


def policies(utility):
    with scope(utility=utility.pk):
        return list(BatteryPolicy.objects.all())


def pair_data(partner, **overrides):
    return {
        "partner": partner.pk,
        "vehicle_model": "F-150 Lightning",
        "charger_maker": "Ford",
        "charger_model": "Charge Station Pro",
        "allows_v1g": "on",
        "allows_v2h": "on",
        "notes": "Pilot 2026",
        **overrides,
    }


def policy_data(partner, **overrides):
    return {
        "partner": partner.pk,
        "vehicle_model": "F-150 Lightning",
        "firmware_min": "1.9",
        "firmware_max": "1.10",
        "discharge_soc_floor_pct": "20",
        "max_discharge_kw": "9.6",
        "max_charge_kw": "",
        "events_per_month_peak": "3",
        "events_per_month_off_peak": "1",
        "peak_months": ["8", "6", "7"],
        "max_hours_per_event": "4",
        "annual_discharge_kwh": "4000",
        "active": "on",
        **overrides,
    }


# --- Who may do what ------------------------------------------------------------------------


def test_it_lets_customer_service_read_but_not_change_equipment_and_policies(client, utility_a):
    pair = ApprovedEquipmentFactory(utility=utility_a, partner=partner_in(utility_a))
    policy = BatteryPolicyFactory(utility=utility_a, partner=partner_in(utility_a))
    signed_in(client, Role.CUSTOMER_SERVICE, utility_a)

    equipment_page = client.get(url("approved_equipment_list", utility_a))
    policy_page = client.get(url("battery_policy_list", utility_a))

    assert equipment_page.status_code == policy_page.status_code == 200
    assert url("approved_equipment_create", utility_a) not in equipment_page.content.decode()
    assert url("battery_policy_edit", utility_a, policy.pk) not in policy_page.content.decode()
    for page in (
        url("approved_equipment_create", utility_a),
        url("approved_equipment_edit", utility_a, pair.pk),
        url("approved_equipment_delete", utility_a, pair.pk),
        url("battery_policy_create", utility_a),
        url("battery_policy_edit", utility_a, policy.pk),
    ):
        assert client.get(page).status_code == 403, page
        assert client.post(page, {}).status_code == 403, page
    assert pairs(utility_a) == [pair]


def test_it_offers_program_admins_the_add_and_edit_links(client, utility_a):
    pair = ApprovedEquipmentFactory(utility=utility_a, partner=partner_in(utility_a))
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    body = client.get(url("approved_equipment_list", utility_a)).content.decode()

    assert url("approved_equipment_create", utility_a) in body
    assert url("approved_equipment_edit", utility_a, pair.pk) in body
    assert url("approved_equipment_delete", utility_a, pair.pk) in body


# --- Approved equipment ---------------------------------------------------------------------


def test_it_adds_an_approved_pair_with_an_audit_row(client, utility_a):
    partner = partner_in(utility_a)
    admin = signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("approved_equipment_create", utility_a), pair_data(partner))

    assert response.status_code == 302
    assert response["Location"] == url("approved_equipment_list", utility_a)
    [pair] = pairs(utility_a)
    assert (pair.utility_id, pair.partner_id, pair.charger_model) == (
        utility_a.pk,
        partner.pk,
        "Charge Station Pro",
    )
    assert (pair.allows_v1g, pair.allows_v2h, pair.allows_v2g) == (True, True, False)
    [event] = audit_rows(utility_a, "approved_equipment.created")
    assert event.actor_user_id == admin.pk
    assert event.object_id == str(pair.pk)
    assert event.changes["partner"] == partner.name
    assert event.changes["allows_v2g"] is False
    assert "Saved" in client.get(response["Location"]).content.decode()


def test_it_edits_an_approved_pair_and_records_what_changed(client, utility_a):
    pair = ApprovedEquipmentFactory(
        utility=utility_a, partner=partner_in(utility_a), charger_model="Pro", notes="old"
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("approved_equipment_edit", utility_a, pair.pk)

    assert 'value="Pro"' in client.get(page).content.decode()
    response = client.post(
        page,
        pair_data(pair.partner, charger_model="Pro", notes="new", allows_v2g="on"),
    )

    assert response.status_code == 302
    pair.refresh_from_db()
    assert (pair.notes, pair.allows_v2g) == ("new", True)
    [event] = audit_rows(utility_a, "approved_equipment.updated")
    assert event.changes == {
        "notes": {"from": "old", "to": "new"},
        "allows_v2g": {"from": False, "to": True},
    }


def test_it_asks_before_removing_a_pair_and_records_the_removal(client, utility_a):
    pair = ApprovedEquipmentFactory(utility=utility_a, partner=partner_in(utility_a))
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("approved_equipment_delete", utility_a, pair.pk)

    confirmation = client.get(page)
    assert confirmation.status_code == 200
    assert "Remove this pair" in confirmation.content.decode()
    assert pairs(utility_a) == [pair]  # GET changes nothing

    response = client.post(page)

    assert response.status_code == 302
    assert pairs(utility_a) == []
    [event] = audit_rows(utility_a, "approved_equipment.deleted")
    assert event.object_id == str(pair.pk)
    assert event.changes["charger_model"] == pair.charger_model


def test_it_refuses_a_partner_without_an_agreement_here(client, utility_a, utility_b):
    partner_in(utility_a)
    foreign = partner_in(utility_b)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("approved_equipment_create", utility_a)

    assert foreign.name not in client.get(page).content.decode()
    response = client.post(page, pair_data(foreign))

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert "Please correct the 1 problem below." in response.content.decode()
    assert pairs(utility_a) == [] and pairs(utility_b) == []
    assert audit_rows(utility_a, "approved_equipment.created") == []


def test_it_refuses_a_foreign_partner_on_edit_too(client, utility_a, utility_b):
    pair = ApprovedEquipmentFactory(utility=utility_a, partner=partner_in(utility_a))
    foreign = partner_in(utility_b)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(
        url("approved_equipment_edit", utility_a, pair.pk),
        pair_data(foreign, charger_model=pair.charger_model),
    )

    assert response.status_code == 200
    pair.refresh_from_db()
    assert pair.partner_id != foreign.pk


def test_it_explains_a_duplicate_pair_instead_of_failing(client, utility_a):
    partner = partner_in(utility_a)
    ApprovedEquipmentFactory(
        utility=utility_a,
        partner=partner,
        vehicle_model="F-150 Lightning",
        charger_maker="Ford",
        charger_model="Charge Station Pro",
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("approved_equipment_create", utility_a), pair_data(partner))

    assert response.status_code == 200
    assert "already on the list" in response.content.decode()
    assert len(pairs(utility_a)) == 1


def test_it_allows_the_same_pair_in_another_utility(client, utility_a, utility_b):
    partner = partner_in(utility_a)
    partner_in(utility_b, name=partner.name)
    ApprovedEquipmentFactory(
        utility=utility_b,
        partner=partner,
        vehicle_model="F-150 Lightning",
        charger_maker="Ford",
        charger_model="Charge Station Pro",
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("approved_equipment_create", utility_a), pair_data(partner))

    assert response.status_code == 302
    assert len(pairs(utility_a)) == 1


def test_it_turns_a_constraint_race_into_a_form_error(client, utility_a, monkeypatch):
    """Two admins adding the same pair at once both pass the form's check; the database's
    unique constraint stops the second, which must see a form error, not an error page."""
    partner = partner_in(utility_a)
    ApprovedEquipmentFactory(
        utility=utility_a,
        partner=partner,
        vehicle_model="F-150 Lightning",
        charger_maker="Ford",
        charger_model="Charge Station Pro",
    )
    monkeypatch.setattr(
        ApprovedEquipmentForm, "neighbours", lambda self: ApprovedEquipment.objects.none()
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("approved_equipment_create", utility_a), pair_data(partner))

    assert response.status_code == 200
    assert "This pair is already on the list for this automaker." in response.content.decode()
    assert audit_rows(utility_a, "approved_equipment.created") == []


def test_it_wants_at_least_one_mode(client, utility_a):
    partner = partner_in(utility_a)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    data = pair_data(partner)
    del data["allows_v1g"], data["allows_v2h"]

    response = client.post(url("approved_equipment_create", utility_a), data)

    assert response.status_code == 200
    assert "Allow at least one mode" in response.content.decode()
    assert pairs(utility_a) == []


# --- Battery policies -----------------------------------------------------------------------


def test_it_adds_a_battery_policy_with_an_audit_row(client, utility_a):
    partner = partner_in(utility_a)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("battery_policy_create", utility_a), policy_data(partner))

    assert response.status_code == 302, response.content.decode()
    [policy] = policies(utility_a)
    assert policy.peak_months == [6, 7, 8]
    assert policy.max_charge_kw is None
    assert (policy.firmware_min, policy.firmware_max) == ("1.9", "1.10")
    [event] = audit_rows(utility_a, "battery_policy.created")
    assert event.changes["discharge_soc_floor_pct"] == 20.0
    assert event.changes["peak_months"] == [6, 7, 8]


def test_it_edits_a_battery_policy_recording_before_and_after(client, utility_a):
    partner = partner_in(utility_a)
    policy = BatteryPolicyFactory(
        utility=utility_a,
        partner=partner,
        vehicle_model="F-150 Lightning",
        firmware_min="1.9",
        firmware_max="1.10",
        peak_months=[6, 7, 8],
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("battery_policy_edit", utility_a, policy.pk)
    assert client.get(page).status_code == 200

    response = client.post(
        page, policy_data(partner, discharge_soc_floor_pct="25", peak_months=["7", "8"])
    )

    assert response.status_code == 302, response.content.decode()
    policy.refresh_from_db()
    assert policy.discharge_soc_floor_pct == 25
    [event] = audit_rows(utility_a, "battery_policy.updated")
    assert event.changes == {
        "discharge_soc_floor_pct": {"from": 20.0, "to": 25.0},
        "peak_months": {"from": [6, 7, 8], "to": [7, 8]},
    }


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"discharge_soc_floor_pct": "101"},
            "discharge_soc_floor_pct",
            "less than or equal to 100",
        ),
        (
            {"discharge_soc_floor_pct": "-1"},
            "discharge_soc_floor_pct",
            "greater than or equal to 0",
        ),
        ({"peak_months": ["0"]}, "peak_months", "Select a valid choice"),
        ({"peak_months": ["13"]}, "peak_months", "Select a valid choice"),
        ({"peak_months": ["June"]}, "peak_months", "Select a valid choice"),
        ({"firmware_min": "2.0", "firmware_max": "1.10"}, "firmware_max", "Must not be before"),
        ({"max_discharge_kw": "-9.6"}, "max_discharge_kw", "greater than or equal to 0"),
        ({"max_charge_kw": "-1"}, "max_charge_kw", "greater than or equal to 0"),
        ({"max_discharge_kw": "nan"}, "max_discharge_kw", "Enter a number"),
        ({"annual_discharge_kwh": "inf"}, "annual_discharge_kwh", "Enter a number"),
        ({"events_per_month_peak": "-1"}, "events_per_month_peak", "greater than or equal to 0"),
        ({"max_hours_per_event": "-0.5"}, "max_hours_per_event", "greater than or equal to 0"),
        ({"events_per_month_off_peak": "1001"}, "events_per_month_off_peak", "less than"),
    ],
)
def test_it_rejects_invalid_policy_values(client, utility_a, overrides, field, message):
    partner = partner_in(utility_a)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(
        url("battery_policy_create", utility_a), policy_data(partner, **overrides)
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert list(errors) == [field], errors
    assert message in " ".join(errors[field])
    assert "error-summary" in response.content.decode()
    assert policies(utility_a) == []


def test_it_refuses_a_second_active_policy_for_the_same_models(client, utility_a):
    partner = partner_in(utility_a)
    BatteryPolicyFactory(
        utility=utility_a,
        partner=partner,
        vehicle_model="F-150 Lightning",
        firmware_min="1.9",
        firmware_max="1.10",
    )
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("battery_policy_create", utility_a)

    duplicate = client.post(page, policy_data(partner))
    inactive = client.post(page, policy_data(partner, active=""))

    assert duplicate.status_code == 200
    assert "An active policy for this automaker" in duplicate.content.decode()
    assert inactive.status_code == 302
    assert len(policies(utility_a)) == 2


def test_it_refuses_a_policy_for_a_partner_from_elsewhere(client, utility_a, utility_b):
    partner_in(utility_a)
    foreign = partner_in(utility_b)
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)

    response = client.post(url("battery_policy_create", utility_a), policy_data(foreign))

    assert response.status_code == 200
    assert list(response.context["form"].errors) == ["partner"]
    assert policies(utility_a) == [] and policies(utility_b) == []


def test_it_answers_404_for_another_utilitys_policy_on_edit(client, utility_a, utility_b):
    theirs = BatteryPolicyFactory(utility=utility_b, partner=partner_in(utility_b))
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url("battery_policy_edit", utility_a, theirs.pk)

    assert client.get(page).status_code == 404
    assert client.post(page, policy_data(theirs.partner)).status_code == 404
    assert audit_rows(utility_a, "battery_policy.updated") == []


@pytest.mark.parametrize(
    ("name", "capability"),
    [
        ("vehicle_list", Cap.VIEW_DEVICES),
        ("vehicle_detail", Cap.VIEW_DEVICES),
        ("charger_list", Cap.VIEW_DEVICES),
        ("charger_detail", Cap.VIEW_DEVICES),
        ("approved_equipment_list", Cap.VIEW_DEVICES),
        ("approved_equipment_create", Cap.MANAGE_EQUIPMENT),
        ("approved_equipment_edit", Cap.MANAGE_EQUIPMENT),
        ("approved_equipment_delete", Cap.MANAGE_EQUIPMENT),
        ("battery_policy_list", Cap.VIEW_DEVICES),
        ("battery_policy_create", Cap.MANAGE_EQUIPMENT),
        ("battery_policy_edit", Cap.MANAGE_EQUIPMENT),
        ("partner_detail", Cap.VIEW_PARTNERS),
    ],
)
def test_it_declares_the_capability_each_page_needs(name, capability):
    # The tenant-isolation suite reads this attribute to decide which roles get each page.
    route = next(r for r in all_routes() if r.name == f"utility:{name}")
    assert route.view_class.required_capability == capability


def _rows(name, utility, n):
    partner = partner_in(utility)
    for _ in range(n):
        if name == "charger_list":
            ChargerFactory(utility=utility, partner=partner, service_account=None)
        elif name == "approved_equipment_list":
            ApprovedEquipmentFactory(utility=utility, partner=partner)
        else:
            BatteryPolicyFactory(utility=utility, partner=partner)


@pytest.mark.parametrize("name", ["charger_list", "approved_equipment_list", "battery_policy_list"])
def test_it_lists_50_rows_with_the_queries_of_3(
    client, utility_a, name, django_assert_max_num_queries
):
    signed_in(client, Role.PROGRAM_ADMIN, utility_a)
    page = url(name, utility_a)
    _rows(name, utility_a, 3)
    client.get(page)
    with CaptureQueriesContext(connection) as three:
        assert client.get(page).status_code == 200

    _rows(name, utility_a, 47)
    with django_assert_max_num_queries(len(three.captured_queries)):
        response = client.get(page)
    assert len(response.context["object_list"]) == 50
