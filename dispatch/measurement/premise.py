"""The premise behind a V2H car: what a car supplying its home can take off the grid.

A car in home supply (a V2H program's discharge: backup-only behind a transfer switch, or
grid-parallel without export) only displaces the home's own import; whatever it discharges
beyond the home's load goes nowhere the grid sees. So M&V credits it the premise's avoided
import, never the car's discharge rate:

* with premise interval data — the meter import billing will bring (Green Button) — the
  avoided import per interval (premise baseline − metered import) is the delivered figure.
  The portal reads it through ``settings.DISPATCH_PREMISE_INTERVAL_SOURCE``: the dotted path
  of a callable ``(*, event, account_ids, grid) -> {service account id: [kW or None per
  grid interval]}``. dispatch never imports billing (imports run the other way); billing
  names its reader in the settings when it has one. None for an interval: no reading there.
* without it, the export part of the car's delivery is capped at the premise's estimated
  load, ``settings.DISPATCH_V2H_PREMISE_LOAD_KW`` (default 1.2 kW: the average US home's
  draw — EIA RECS 2020, about 10,800 kWh a year). A program-wide figure, on the low side on
  purpose: an estimate must never count more than the premise could avoid. The report labels
  such figures as estimates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from django.conf import settings
from django.utils.module_loading import import_string

from dispatch.models import Event
from enrollment.models import Program

DISCHARGE_TYPES = {Event.Type.V2H_HOME_SUPPLY, Event.Type.EMERGENCY, Event.Type.TEST}

PremiseSource = Callable[..., Mapping[int, Sequence[float | None]]]


def premise_load_kw() -> float:
    """The premise's estimated load while its car supplies it (fails loudly when bad)."""
    value = settings.DISPATCH_V2H_PREMISE_LOAD_KW
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"DISPATCH_V2H_PREMISE_LOAD_KW must be a number ≥ 0, not {value!r}.")
    return float(value)


def is_home_supply(event: Event) -> bool:
    """The event's discharge supplies homes: a V2H home-supply event, or an emergency or test
    event of a V2H program (its cars cannot export)."""
    if event.event_type == Event.Type.V2H_HOME_SUPPLY:
        return True
    return event.program.kind == Program.Kind.V2H and event.event_type in DISCHARGE_TYPES


def avoided_import_kw(
    *, event: Event, account_ids: Sequence[int], grid: Sequence[datetime]
) -> dict[int, list[float | None]]:
    """Service account id → the premise's metered avoided import kW per grid interval, for
    the accounts with premise interval data (none until a source is configured)."""
    path = settings.DISPATCH_PREMISE_INTERVAL_SOURCE
    if not path or not account_ids:
        return {}
    source: PremiseSource = import_string(path)
    found = source(event=event, account_ids=list(account_ids), grid=list(grid))
    return {int(k): list(v) for k, v in found.items() if len(v) == len(grid)}


def home_supply_delivered_kw(*, baseline_kw: float, actual_kw: float, load_kw: float) -> float:
    """baseline − actual with the export part (negative actual) counted only down to −load:
    the charging the car stopped is avoided import in full, its discharge only as far as
    the home's load."""
    return baseline_kw - max(actual_kw, -load_kw)
