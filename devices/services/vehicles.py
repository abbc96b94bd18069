"""Vehicle registration and updates by partners, and the driver's app preferences.

Call these inside a scope covering the utility. Every change is checked against the current
row (under a row lock) and recorded in the audit trail. ``**audit_actor`` is passed on to ``portal.audit.record``: ``actor=<user>``, or a partner
client's ``client_id=…, partner_name=…`` (``request.partner_access.audit_actor``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django_scopes import scopes_disabled

from devices.models import CustomerPreference, Mode, Vehicle
from devices.services.errors import VehicleExists, VinActiveElsewhere
from devices.signals import equipment_changed
from portal.audit import record
from portal.customers.models import ServiceAccount
from portal.models import AutomakerPartner, Utility

MODE_FIELDS = {Mode.V1G: "supports_v1g", Mode.V2H: "supports_v2h", Mode.V2G: "supports_v2g"}
# What a partner may change on a registered vehicle (model field names); the VIN, utility and
# partner are fixed for the life of a registration.
UPDATABLE_FIELDS = (
    "partner_vehicle_id",
    "model",
    "model_year",
    "usable_battery_kwh",
    "max_charge_kw",
    "max_discharge_kw",
    "firmware_version",
    "status",
)


def register_vehicle(
    *,
    utility: Utility,
    partner: AutomakerPartner,
    vin: str,
    partner_vehicle_id: str,
    model: str,
    model_year: int,
    usable_battery_kwh: float,
    modes: Collection[str],
    max_charge_kw: float,
    max_discharge_kw: float = 0,
    firmware_version: str = "",
    service_account: ServiceAccount | None = None,
    **audit_actor: Any,
) -> Vehicle:
    """Register a partner's vehicle in a utility. ``vin`` must be normalized
    (``devices.vin.normalize_vin``). A VIN active anywhere else (another utility or another
    partner) is ``VinActiveElsewhere``; one already registered here, or a taken
    ``partner_vehicle_id``, is ``VehicleExists``. ``service_account`` links the customer's
    account: the caller has checked the customer's authorization
    (``portal.customers.authorizations.authorized_account``)."""
    vehicle = Vehicle(
        utility=utility,
        partner=partner,
        vin=vin,
        partner_vehicle_id=partner_vehicle_id,
        model=model,
        model_year=model_year,
        usable_battery_kwh=usable_battery_kwh,
        max_charge_kw=max_charge_kw,
        max_discharge_kw=max_discharge_kw,
        firmware_version=firmware_version,
        service_account=service_account,
        **{name: mode in modes for mode, name in MODE_FIELDS.items()},
    )
    vehicle.full_clean(validate_unique=False, validate_constraints=False)
    with transaction.atomic():
        _check_registration_free(vehicle)
        _save_checked(vehicle)
        record(
            action="vehicle.registered",
            utility=utility,
            obj=vehicle,
            to_state=vehicle.status,
            changes={"vin": vin, "vehicle_id": partner_vehicle_id},
            **audit_actor,
        )
    return vehicle


def update_vehicle(*, vehicle: Vehicle, changes: Mapping[str, Any], **audit_actor: Any) -> Vehicle:
    """Change a registered vehicle. ``changes`` holds ``UPDATABLE_FIELDS`` (model names),
    ``modes`` (replaces the capabilities) and ``service_account`` (links another service
    account, whose customer's authorization the caller has checked; None unlinks). Reactivating a vehicle, or giving it a new partner id, is refused
    when that is taken (see ``register_vehicle``)."""
    unknown = set(changes) - {*UPDATABLE_FIELDS, "modes", "service_account"}
    if unknown:
        raise ValueError(f"Not updatable: {sorted(unknown)}")
    with transaction.atomic():
        locked = Vehicle.objects.select_for_update(of=("self",)).get(pk=vehicle.pk)
        before = {name: getattr(locked, name) for name in _AUDITED_FIELDS}
        for name, value in changes.items():
            if name == "modes":
                for mode, field_name in MODE_FIELDS.items():
                    setattr(locked, field_name, mode in value)
            elif name == "service_account":
                if value is not None and value.utility_id != locked.utility_id:
                    raise ValueError("The service account is in another utility.")
                locked.service_account = value
            else:
                setattr(locked, name, value)
        after = {name: getattr(locked, name) for name in _AUDITED_FIELDS}
        changed = {
            name: [before[name], after[name]] for name in after if before[name] != after[name]
        }
        if not changed:
            return locked
        locked.full_clean(validate_unique=False, validate_constraints=False)
        if locked.status == Vehicle.Status.ACTIVE and {"status", "partner_vehicle_id"} & set(
            changed
        ):
            _check_registration_free(locked)
        _save_checked(locked, update_fields=[*changed, "updated_at"])
        status_change = changed.get("status", ["", ""])
        if "service_account_id" in changed:
            changed["account_number"] = [
                _account_number(pk) for pk in changed.pop("service_account_id")
            ]
        accounts = {vehicle.service_account_id, locked.service_account_id} - {None}
        if accounts:
            equipment_changed.send(
                sender=Vehicle, utility_id=locked.utility_id, service_account_ids=sorted(accounts)
            )
        record(
            action="vehicle.updated",
            utility=locked.utility,
            obj=locked,
            from_state=status_change[0],
            to_state=status_change[1],
            changes=changed,
            **audit_actor,
        )
    return locked


_AUDITED_FIELDS = (*UPDATABLE_FIELDS, *MODE_FIELDS.values(), "service_account_id")


def _account_number(service_account_id: int | None) -> str | None:
    if service_account_id is None:
        return None
    return (
        ServiceAccount.objects.filter(pk=service_account_id)
        .values_list("account_number", flat=True)
        .first()
    )


def _check_registration_free(vehicle: Vehicle) -> None:
    """Raise unless ``vehicle`` may be active: its VIN active nowhere else, its partner id
    unused among the partner's active vehicles in its utility."""
    with scopes_disabled():  # a VIN is active in one utility at most, across all of them
        holder = (
            Vehicle.objects.filter(vin=vehicle.vin, status=Vehicle.Status.ACTIVE)
            .exclude(pk=vehicle.pk)
            .values_list("utility_id", "partner_id")
            .first()
        )
    if holder == (vehicle.utility_id, vehicle.partner_id):
        raise VehicleExists("This VIN is already registered and active.", field="vin")
    if holder is not None:
        # Say nothing of where: another utility's registrations are not this client's business.
        raise VinActiveElsewhere(
            "This VIN is active in another program or with another partner; it must be "
            "released there before it can be registered here."
        )
    taken = (
        Vehicle.objects.filter(
            utility_id=vehicle.utility_id,
            partner_id=vehicle.partner_id,
            partner_vehicle_id=vehicle.partner_vehicle_id,
            status=Vehicle.Status.ACTIVE,
        )
        .exclude(pk=vehicle.pk)
        .exists()
    )
    if taken:
        raise VehicleExists(
            "Another of your active vehicles in this utility has this vehicle_id.",
            field="vehicle_id",
        )


def _save_checked(vehicle: Vehicle, **save_options: Any) -> None:
    """Save; a concurrent registration that won the race shows up as the constraint
    violation, reported as the conflict it is."""
    try:
        with transaction.atomic():
            vehicle.save(**save_options)
    except IntegrityError:
        _check_registration_free(vehicle)
        raise VehicleExists("This vehicle is already registered.") from None


PREFERENCE_FIELDS = (
    "reserve_soc_pct",
    "reserve_miles",
    "miles_per_kwh",
    "departure_time",
    "target_soc_pct",
)


def set_preferences(*, vehicle: Vehicle, values: Mapping[str, Any], **audit_actor: Any):
    """Replace the driver's app preferences for a vehicle (fields not given are cleared to
    their defaults), audited with before and after."""

    with transaction.atomic():
        preference, _ = CustomerPreference.objects.select_for_update().get_or_create(
            vehicle=vehicle, defaults={"utility": vehicle.utility}
        )
        defaults = {f.name: f.get_default() for f in CustomerPreference._meta.fields}
        before = {name: getattr(preference, name) for name in PREFERENCE_FIELDS}
        for name in PREFERENCE_FIELDS:
            setattr(preference, name, values.get(name, defaults[name]))
        preference.full_clean(exclude=["vehicle", "utility"])
        preference.save()
        after = {name: getattr(preference, name) for name in PREFERENCE_FIELDS}
        changed = {
            name: [str(before[name]), str(after[name])]
            for name in PREFERENCE_FIELDS
            if before[name] != after[name]
        }
        if changed:
            record(
                action="vehicle.preferences_set",
                utility=vehicle.utility,
                obj=vehicle,
                changes=changed,
                **audit_actor,
            )
    return preference
