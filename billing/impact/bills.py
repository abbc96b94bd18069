"""A settlement line's bill figures from one enrollment's month aggregates, through the
tariff engine (``billing.rates.engine.bill_month``).

Both bills are for the same frame (see ``aggregation``). What the vehicle discharged is
valued by billing the month again without it, so tiers, TOU prices and the tariff's sell
rate all apply as they would on the bill:

* the V2G export credit is what the bill would have been higher had the exported part of
  the discharge not been exported;
* the V2H import avoided is what the bill would have been higher had the rest (the part
  that served the home instead of importing) been imported at its TOU price.

Without premise meter data the EV's own series is billed; its discharge counts as export
for a V2G program, and as home supply (import avoided) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from billing.impact.aggregation import MonthAggregates, Side
from billing.rates.engine import MonthUsage, bill_month

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    """Money figures are rounded half-up to the cent, once, where they are made (the
    engine's bill totals already are: a sum of lines rounded to the cent)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class BillFigures:
    bill_program: Decimal
    bill_counterfactual: Decimal
    v2h_kwh: Decimal
    v2h_avoided: Decimal
    v2g_kwh: Decimal
    v2g_credit: Decimal
    detail: dict

    @property
    def savings(self) -> Decimal:
        return self.bill_counterfactual - self.bill_program


def _usage(schedule, side: Side, *, year: int, month: int, days: int) -> MonthUsage:
    return MonthUsage(
        year=year,
        month=month,
        days=days,
        import_kwh_by_period=dict(side.import_kwh),
        export_kwh_by_period=dict(side.export_kwh),
        max_kw=side.max_kw,
        max_kw_by_period=dict(side.max_kw_by_period) if schedule.has_tou_demand else {},
    )


def _bill(schedule, side: Side, *, year: int, month: int, days: int):
    return bill_month(schedule, _usage(schedule, side, year=year, month=month, days=days))


def _split_discharge(side: Side, discharged: dict[int, Decimal], *, home_only: bool):
    """The side as it would be without the discharge: first the exported part put back
    (the V2G side), then the rest imported (the V2H side). Returns (exported kWh by period,
    home kWh by period)."""
    exported, home = {}, {}
    for period, kwh in discharged.items():
        out = Decimal(0) if home_only else min(kwh, side.export_kwh.get(period, Decimal(0)))
        exported[period], home[period] = out, kwh - out
    return exported, home


def _shifted(side: Side, *, less_export: dict, more_import: dict) -> Side:
    periods = set(side.import_kwh) | set(side.export_kwh) | set(more_import)
    return Side(
        import_kwh={p: side.import_kwh.get(p, Decimal(0)) + more_import.get(p, Decimal(0))
                    for p in periods},
        export_kwh={p: side.export_kwh.get(p, Decimal(0)) - less_export.get(p, Decimal(0))
                    for p in periods},
        max_kw_by_period=side.max_kw_by_period,
    )  # fmt: skip


def bill_figures(
    schedule,
    agg: MonthAggregates,
    *,
    year: int,
    month: int,
    days: int,
    metered: bool,
    exports_to_grid: bool,
) -> BillFigures:
    """``metered``: the aggregates are the premise meter's; ``exports_to_grid``: the program
    is V2G (only matters without meter data: what the EV's discharge did)."""
    kwargs = {"year": year, "month": month, "days": days}
    home_supply_only = not metered and not exports_to_grid
    # The EV-only series shows home supply as export; it served the home instead.
    program = (
        Side(agg.program.import_kwh, {}, agg.program.max_kw_by_period)
        if home_supply_only
        else agg.program
    )
    exported, home = _split_discharge(program, agg.discharged_kwh, home_only=home_supply_only)
    actual = _bill(schedule, program, **kwargs)
    no_export = _bill(schedule, _shifted(program, less_export=exported, more_import={}), **kwargs)
    no_discharge = _bill(
        schedule, _shifted(program, less_export=exported, more_import=home), **kwargs
    )
    v2h_avoided = cents(no_discharge.total - no_export.total)
    # Metered, the avoided import is already in the premise bill; EV-only, it is taken off.
    bill_program = cents(actual.total) - (v2h_avoided if home_supply_only else 0)
    counterfactual = _bill(schedule, agg.counterfactual, **kwargs)
    return BillFigures(
        bill_program=bill_program,
        bill_counterfactual=cents(counterfactual.total),
        v2h_kwh=sum(home.values(), Decimal(0)),
        v2h_avoided=v2h_avoided,
        v2g_kwh=sum(exported.values(), Decimal(0)),
        v2g_credit=cents(no_export.total - actual.total),
        detail={"program": _lines(actual), "counterfactual": _lines(counterfactual)},
    )


def _lines(bill) -> list[dict]:
    return [
        {"kind": li.kind, "label": li.label, "quantity": str(li.quantity), "unit": li.unit,
         "rate": str(li.rate), "amount": str(li.amount)}
        for li in bill.lines
    ]  # fmt: skip


def energy_by_period(schedule, agg: MonthAggregates) -> dict[str, dict[str, str]]:
    """kWh imported per TOU period on both sides, with the period's name, for the line."""
    periods = sorted(set(agg.program.import_kwh) | set(agg.counterfactual.import_kwh))
    names = [p.label for p in schedule.energy_periods]
    return {
        str(p): {
            "label": (names[p] if p < len(names) else "") or f"Period {p + 1}",
            "program_kwh": str(agg.program.import_kwh.get(p, Decimal(0))),
            "counterfactual_kwh": str(agg.counterfactual.import_kwh.get(p, Decimal(0))),
        }
        for p in periods
    }
