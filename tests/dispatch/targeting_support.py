"""Helpers for the targeting and dispatch group tests (and their isolation cases)."""

from __future__ import annotations

from itertools import count

from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import VehicleState
from dispatch.models import DispatchGroup
from tests.devices.factories import ChargerFactory, VehicleFactory
from tests.enrollment.factories import EnrollmentFactory


def enrolled(program, *, feeder="", soc_pct=None, **enrollment):
    """A vehicle actively enrolled in ``program`` at an account on ``feeder``; with
    ``soc_pct``, also plugged in with that state of charge now (so it has capacity)."""
    charger = ChargerFactory(utility=program.utility, max_discharge_kw=11.5, approved_export_kw=9.6)
    e = EnrollmentFactory(
        program=program,
        service_account__feeder=feeder,
        vehicle__charger=charger,
        **enrollment,
    )
    if soc_pct is not None:
        now = timezone.now()
        with scopes_disabled():
            VehicleState.objects.create(
                utility=program.utility, vehicle=e.vehicle, ts=now, soc_pct=soc_pct,
                power_kw=0.0, plugged_in=True, charging_state="idle", updated_at=now,
            )  # fmt: skip
    return e


_groups = count(1)


def make_group(utility, *, name=None, vehicles=None) -> DispatchGroup:
    """A dispatch group of ``utility`` with ``vehicles`` (default: one new vehicle)."""
    with scopes_disabled():
        group = DispatchGroup.objects.create(
            utility=utility, name=name or f"{utility.name} Marker Group {next(_groups)}"
        )
        members = vehicles if vehicles is not None else [VehicleFactory(utility=utility)]
        group.vehicles.set(members)
    return group
