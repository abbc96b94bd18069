"""Read an OpenEI URDB tariff document into a ``TariffSchedule``.

Accepts the URDB API's answer (``{"items": [tariff]}``) or a bare tariff object. A document
that is not a tariff, or whose schedules are inconsistent (wrong shape, a period index with no
rate structure), raises ``TariffError`` and nothing is built. A construct the engine cannot
bill (daily or per-kW tiers, coincident demand, ratchets, free-text adjustments, reactive
power...) is named in ``TariffSchedule.unsupported``: never silently dropped.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.rates.schedule import (
    PER_DAY,
    PER_MONTH,
    DemandPeriod,
    DemandTier,
    EnergyPeriod,
    EnergyTier,
    FixedCharge,
    PeriodMap,
    TariffSchedule,
)


class TariffError(ValueError):
    """The document is not a tariff this portal can read; the message says why."""


# Keys that carry charges the engine does not compute; present and non-empty -> unsupported.
UNSUPPORTED_KEYS = {
    "coincidentratestructure": "coincident demand charges (coincidentratestructure)",
    "coincidentrateschedule": "coincident demand schedule (coincidentrateschedule)",
    "energyattrs": "energy adjustments given as free text (energyattrs)",
    "demandattrs": "demand adjustments given as free text (demandattrs)",
    "fixedattrs": "fixed-charge adjustments given as free text (fixedattrs)",
    "demandratchetpercentage": "demand ratchet (demandratchetpercentage)",
    "lookbackpercent": "demand ratchet (lookbackpercent)",
    "lookbackmonths": "demand ratchet (lookbackmonths)",
    "lookbackrange": "demand ratchet (lookbackrange)",
    "demandreactivepowercharge": "reactive power charge $/kVAR (demandreactivepowercharge)",
    "fixedchargeeaaddl": "fixed charge for additional meters (fixedchargeeaaddl)",
    "fueladjustmentsmonthly": "monthly fuel adjustments (fueladjustmentsmonthly)",
}

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024

# Schedules bigger than this are not tariffs; refuse before walking them.
MAX_PERIODS = 48
MAX_TIERS = 24


def decode_document(data: bytes | str) -> Any:
    """The JSON in an uploaded or pasted document, or ``TariffError`` saying why not."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > MAX_DOCUMENT_BYTES:
        raise TariffError(f"The document is {size} bytes; at most {MAX_DOCUMENT_BYTES}.")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise TariffError("The document is not UTF-8 text.") from None
    if not data.strip():
        raise TariffError("The document is empty.")
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise TariffError(
            f"Invalid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except RecursionError:
        raise TariffError("Invalid JSON: nested too deeply.") from None


def _refuse_constant(name: str):
    raise TariffError(f"Invalid JSON: {name} is not a number.")


def parse_urdb(doc: Any) -> TariffSchedule:
    """The tariff in ``doc`` (the decoded JSON), or ``TariffError``."""
    tariff = _the_tariff(doc)
    unsupported: list[str] = []
    constructs: list[str] = []

    name = tariff.get("name")
    if not isinstance(name, str) or not name.strip():
        raise TariffError("Not a URDB tariff: it has no name.")
    charge_keys = (
        "energyratestructure",
        "flatdemandstructure",
        "demandratestructure",
        "fixedchargefirstmeter",
        "fixedmonthlycharge",
    )
    if not any(key in tariff for key in charge_keys):
        raise TariffError(
            "Not a URDB tariff: it has no energy, demand or fixed charges "
            "(energyratestructure, flatdemandstructure, demandratestructure, fixedchargefirstmeter)."
        )

    energy_periods, energy_weekday, energy_weekend = _energy(tariff, unsupported, constructs)
    flat_periods, flat_months = _flat_demand(tariff, unsupported, constructs)
    demand_periods, demand_weekday, demand_weekend = _tou_demand(tariff, unsupported, constructs)
    fixed = _fixed_charges(tariff, unsupported, constructs)
    min_charge, min_unit = _min_charge(tariff, unsupported, constructs)

    for key, description in UNSUPPORTED_KEYS.items():
        if _present(tariff.get(key)):
            unsupported.append(description)

    return TariffSchedule(
        name=name.strip(),
        utility_name=_text(tariff.get("utility")),
        label=_text(tariff.get("label")),
        energy_periods=energy_periods,
        energy_weekday=energy_weekday,
        energy_weekend=energy_weekend,
        flat_demand_periods=flat_periods,
        flat_demand_months=flat_months,
        demand_periods=demand_periods,
        demand_weekday=demand_weekday,
        demand_weekend=demand_weekend,
        fixed_charges=fixed,
        min_charge=min_charge,
        min_charge_unit=min_unit,
        start_date=_epoch_date(tariff, "startdate"),
        end_date=_epoch_date(tariff, "enddate"),
        unsupported=tuple(unsupported),
        supported_constructs=tuple(constructs),
    )


def _the_tariff(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict) and "items" in doc:
        items = doc["items"]
        if not isinstance(items, list) or not items:
            raise TariffError("The document's 'items' list holds no tariff.")
        if len(items) > 1:
            raise TariffError(
                f"The document holds {len(items)} tariffs; import them one at a time."
            )
        doc = items[0]
    if not isinstance(doc, dict):
        raise TariffError("Not a URDB tariff: expected a JSON object.")
    return doc


def _energy(tariff, unsupported, constructs):
    structure = tariff.get("energyratestructure")
    if structure is None:
        return (), (), ()
    periods = []
    labels = tariff.get("energytoulabels") or []
    for index, raw_tiers in enumerate(_list_of_periods(structure, "energyratestructure")):
        tiers = []
        for tier_no, raw in enumerate(raw_tiers):
            where = f"energyratestructure[{index}][{tier_no}]"
            unit = raw.get("unit", "kWh")
            if unit != "kWh":
                unsupported.append(f"energy tier unit {unit!r} in {where} (only monthly kWh tiers)")
            sell = raw.get("sell")
            tiers.append(
                EnergyTier(
                    rate=_money(raw.get("rate", 0), where + ".rate"),
                    adj=_money(raw.get("adj", 0), where + ".adj"),
                    max_kwh=_bound(raw.get("max"), where + ".max"),
                    sell=None if sell is None else _money(sell, where + ".sell"),
                )
            )
        _check_bounds([t.max_kwh for t in tiers], f"energyratestructure[{index}]")
        periods.append(EnergyPeriod(label=_period_label(labels, index), tiers=tuple(tiers)))
    weekday = _period_map(tariff, "energyweekdayschedule", len(periods))
    weekend = _period_map(tariff, "energyweekendschedule", len(periods))
    constructs.append(f"energy charges: {len(periods)} period(s) on 12×24 weekday/weekend maps")
    if any(len(p.tiers) > 1 for p in periods):
        constructs.append("monthly energy tiers (max kWh per month)")
    if any(t.sell is not None for p in periods for t in p.tiers):
        constructs.append("export credit (sell rate per kWh)")
    return tuple(periods), weekday, weekend


def _flat_demand(tariff, unsupported, constructs):
    structure = tariff.get("flatdemandstructure")
    if structure is None:
        return (), ()
    _demand_unit(tariff, "flatdemandunit", unsupported)
    periods = _demand_periods(structure, "flatdemandstructure", [])
    months = tariff.get("flatdemandmonths")
    if months is None:
        months = [0] * 12
    if not isinstance(months, list) or len(months) != 12:
        raise TariffError("flatdemandmonths must list 12 period indexes, one per month.")
    for month, value in enumerate(months):
        _check_index(value, len(periods), f"flatdemandmonths[{month}]", "flatdemandstructure")
    constructs.append("flat demand charge ($/kW on the monthly maximum)")
    return periods, tuple(months)


def _tou_demand(tariff, unsupported, constructs):
    structure = tariff.get("demandratestructure")
    if structure is None:
        return (), (), ()
    _demand_unit(tariff, "demandrateunit", unsupported)
    periods = _demand_periods(structure, "demandratestructure", tariff.get("demandlabels") or [])
    weekday = _period_map(tariff, "demandweekdayschedule", len(periods))
    weekend = _period_map(tariff, "demandweekendschedule", len(periods))
    constructs.append(f"time-of-use demand charges: {len(periods)} period(s)")
    return periods, weekday, weekend


def _demand_unit(tariff, key, unsupported):
    unit = tariff.get(key, "kW")
    if unit != "kW":
        unsupported.append(f"demand unit {unit!r} ({key}; only kW)")


def _demand_periods(structure, key, labels) -> tuple[DemandPeriod, ...]:
    periods = []
    for index, raw_tiers in enumerate(_list_of_periods(structure, key)):
        tiers = tuple(
            DemandTier(
                rate=_money(raw.get("rate", 0), f"{key}[{index}][{n}].rate"),
                adj=_money(raw.get("adj", 0), f"{key}[{index}][{n}].adj"),
                max_kw=_bound(raw.get("max"), f"{key}[{index}][{n}].max"),
            )
            for n, raw in enumerate(raw_tiers)
        )
        _check_bounds([t.max_kw for t in tiers], f"{key}[{index}]")
        periods.append(DemandPeriod(label=_period_label(labels, index), tiers=tiers))
    return tuple(periods)


def _fixed_charges(tariff, unsupported, constructs) -> tuple[FixedCharge, ...]:
    charges = []
    first_meter = tariff.get("fixedchargefirstmeter")
    if first_meter is not None:
        unit = tariff.get("fixedchargeunits", PER_MONTH)
        amount = _money(first_meter, "fixedchargefirstmeter")
        if unit in (PER_MONTH, PER_DAY):
            charges.append(FixedCharge(label="Customer charge", amount=amount, unit=unit))
            constructs.append(f"fixed charge {unit}")
        else:
            unsupported.append(f"fixed charge unit {unit!r} (fixedchargeunits; $/month or $/day)")
    monthly = tariff.get("fixedmonthlycharge")
    if monthly is not None:
        amount = _money(monthly, "fixedmonthlycharge")
        # Older URDB records carry the same charge under both names; count it once.
        duplicate = any(c.unit == PER_MONTH and c.amount == amount for c in charges)
        if not duplicate:
            charges.append(FixedCharge(label="Monthly charge", amount=amount, unit=PER_MONTH))
            constructs.append("fixed charge $/month (fixedmonthlycharge)")
    return tuple(charges)


def _min_charge(tariff, unsupported, constructs) -> tuple[Decimal | None, str]:
    raw = tariff.get("mincharge")
    if raw is None:
        return None, PER_MONTH
    amount = _money(raw, "mincharge")
    unit = tariff.get("minchargeunits", PER_MONTH)
    if unit not in (PER_MONTH, PER_DAY):
        unsupported.append(f"minimum charge unit {unit!r} (minchargeunits; $/month or $/day)")
        return None, PER_MONTH
    constructs.append(f"minimum charge {unit}")
    return amount, unit


def _list_of_periods(structure: Any, key: str) -> list[list[dict]]:
    if not isinstance(structure, list) or not structure:
        raise TariffError(f"{key} must be a non-empty list of periods.")
    if len(structure) > MAX_PERIODS:
        raise TariffError(f"{key} has {len(structure)} periods; at most {MAX_PERIODS}.")
    for index, tiers in enumerate(structure):
        if not isinstance(tiers, list) or not tiers or len(tiers) > MAX_TIERS:
            raise TariffError(f"{key}[{index}] must be a list of 1 to {MAX_TIERS} tiers.")
        if not all(isinstance(tier, dict) for tier in tiers):
            raise TariffError(f"{key}[{index}]: every tier must be an object.")
    return structure


def _period_map(tariff: dict, key: str, period_count: int) -> PeriodMap:
    grid = tariff.get(key)
    if grid is None:
        raise TariffError(f"{key} is missing: a rate structure needs its 12×24 schedule.")
    if not isinstance(grid, list) or len(grid) != 12:
        raise TariffError(f"{key} must have 12 rows (months), not {_length(grid)}.")
    for month, row in enumerate(grid):
        if not isinstance(row, list) or len(row) != 24:
            raise TariffError(f"{key}[{month}] must have 24 hours, not {_length(row)}.")
        for hour, value in enumerate(row):
            _check_index(value, period_count, f"{key}[{month}][{hour}]", key)
    return tuple(tuple(row) for row in grid)


def _check_index(value: Any, count: int, where: str, structure: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise TariffError(
            f"{where} = {value!r} is not a period of the rate structure for {structure} "
            f"(periods 0 to {count - 1})."
        )


def _check_bounds(bounds: list[Decimal | None], where: str) -> None:
    """Every tier but the last needs a ``max``, and the bounds must increase."""
    previous = Decimal(0)
    for n, bound in enumerate(bounds[:-1]):
        if bound is None:
            raise TariffError(f"{where}[{n}] has no 'max' although a higher tier follows.")
        if bound <= previous:
            raise TariffError(f"{where}[{n}].max = {bound} does not increase on the tier below.")
        previous = bound


def _money(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TariffError(f"{where} must be a number, not {value!r}.")
    if isinstance(value, float) and not math.isfinite(value):
        raise TariffError(f"{where} must be a finite number.")
    try:
        # str() first: a float's shortest repr is the number the document wrote.
        number = Decimal(str(value))
    except InvalidOperation:
        raise TariffError(f"{where} must be a number, not {value!r}.") from None
    if not number.is_finite() or abs(number) > 10**6:
        raise TariffError(f"{where} = {value!r} is out of range.")
    return number


def _bound(value: Any, where: str) -> Decimal | None:
    if value is None:
        return None
    bound = _money(value, where)
    if bound <= 0:
        raise TariffError(f"{where} must be positive.")
    return bound


def _epoch_date(tariff: dict, key: str) -> date | None:
    value = tariff.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TariffError(f"{key} must be a Unix timestamp.")
    try:
        return datetime.fromtimestamp(value, tz=UTC).date()
    except (OverflowError, OSError, ValueError):
        raise TariffError(f"{key} = {value!r} is not a usable date.") from None


def _period_label(labels: list, index: int) -> str:
    if index < len(labels) and isinstance(labels[index], str) and labels[index].strip():
        return labels[index].strip()
    return f"Period {index + 1}"


def _present(value: Any) -> bool:
    return value not in (None, "", [], {}, 0)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _length(value: Any) -> int | str:
    return len(value) if isinstance(value, list) else type(value).__name__
