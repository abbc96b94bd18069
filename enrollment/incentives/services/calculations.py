"""Incentive amounts as pure functions of an offer's numbers and the measured figures, each
with the steps that led to it in words; money rounds half up to the cent, as on a bill."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from enrollment.incentives.services.errors import InvalidInput

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MEASUREMENT = Decimal("0.001")


def to_cents(value: Decimal) -> Decimal:
    """Half a cent rounds up, as on a bill — never the banker's rounding Decimal defaults to."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def as_decimal(value: Decimal | int | float | str, *, name: str) -> Decimal:
    """A finite Decimal. Floats go through their shortest text form, so 12.3 stays 12.3."""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{name} is not a number: {value!r}.") from None
    if not number.is_finite():
        raise InvalidInput(f"{name} is not a number: {value!r}.")
    return number


def dollars(value: Decimal) -> str:
    text = f"${abs(value):,.2f}"
    return f"−{text}" if value < 0 else text


@dataclass(frozen=True)
class Amount:
    """A calculated amount in cents and the steps that led to it, in words."""

    amount: Decimal
    steps: tuple[str, ...]


def charger_rebate(
    *,
    standard_amount: Decimal,
    income_qualified_amount: Decimal | None,
    income_qualified: bool,
    invoice_total: Decimal,
) -> Amount:
    """The offer's rebate for the customer's tier, never more than the invoice."""
    if invoice_total <= 0:
        raise InvalidInput("The invoice total must be more than $0.00.")
    if income_qualified and income_qualified_amount is not None:
        base = income_qualified_amount
        steps = [f"Income-qualified rebate: {dollars(base)}."]
    else:
        base = standard_amount
        steps = [f"Standard rebate: {dollars(base)}."]
        if income_qualified:
            steps.append("This offer has no income-qualified amount.")
    invoice = to_cents(invoice_total)
    amount = to_cents(base)
    if invoice < amount:
        steps.append(f"Capped at the invoice total, {dollars(invoice)}.")
        amount = invoice
    return Amount(amount, tuple(steps))


def enrollment_bonus(*, amount: Decimal) -> Amount:
    return Amount(to_cents(amount), (f"Enrollment bonus, once per enrollment: {dollars(amount)}.",))


def monthly_credit(
    *, amount: Decimal, opt_out_count: int, forfeit_after_opt_outs: int | None
) -> Amount:
    """The month's credit, or nothing once the opt-outs that month reach the offer's limit."""
    if opt_out_count < 0:
        raise InvalidInput("The number of opt-outs cannot be negative.")
    plural = "opt-out" if opt_out_count == 1 else "opt-outs"
    if forfeit_after_opt_outs is not None and opt_out_count >= forfeit_after_opt_outs:
        return Amount(
            ZERO,
            (
                f"{opt_out_count} {plural} this month; the credit is forfeited at "
                f"{forfeit_after_opt_outs}.",
            ),
        )
    limit = (
        f" (forfeited at {forfeit_after_opt_outs})" if forfeit_after_opt_outs is not None else ""
    )
    return Amount(
        to_cents(amount),
        (f"Monthly credit {dollars(amount)}; {opt_out_count} {plural} this month{limit}.",),
    )


def _within_season_cap(
    *, amount: Decimal, earned_this_season: Decimal, season_cap: Decimal | None, steps: list[str]
) -> Amount:
    if season_cap is not None:
        room = max(ZERO, to_cents(season_cap) - to_cents(earned_this_season))
        if amount > room:
            steps.append(
                f"Season cap {dollars(season_cap)}, of which {dollars(earned_this_season)} is "
                f"already earned: {dollars(room)}."
            )
            amount = room
    return Amount(to_cents(amount), tuple(steps))


def event_performance(
    *,
    rate_per_kwh: Decimal,
    measured_kwh: Decimal,
    earned_this_season: Decimal = ZERO,
    season_cap: Decimal | None = None,
) -> Amount:
    """$/kWh for the energy an event measured (shifted or exported), within the season cap.
    Performance below zero (more load than the baseline) earns nothing, it costs nothing."""
    steps = []
    kwh = measured_kwh
    if kwh < 0:
        steps.append(f"Measured {kwh} kWh is below zero; counted as 0 kWh.")
        kwh = Decimal(0)
    amount = to_cents(kwh * rate_per_kwh)
    steps.append(f"{kwh} kWh × ${rate_per_kwh}/kWh = {dollars(amount)}.")
    return _within_season_cap(
        amount=amount, earned_this_season=earned_this_season, season_cap=season_cap, steps=steps
    )


def capacity_payment(
    *,
    rate_per_kw: Decimal,
    measured_kw: Decimal,
    earned_this_season: Decimal = ZERO,
    season_cap: Decimal | None = None,
) -> Amount:
    """$/kW-season for the average kW measured over the season's events, within the cap."""
    steps = []
    kw = measured_kw
    if kw < 0:
        steps.append(f"Measured {kw} kW is below zero; counted as 0 kW.")
        kw = Decimal(0)
    amount = to_cents(kw * rate_per_kw)
    steps.append(f"{kw} kW × ${rate_per_kw}/kW-season = {dollars(amount)}.")
    return _within_season_cap(
        amount=amount, earned_this_season=earned_this_season, season_cap=season_cap, steps=steps
    )


def season_label(*, seasons: list[dict], on: date) -> str:
    """The program season ``on`` falls in, with its year ("Summer 2026"); a season running
    over New Year ("Winter": Nov–Feb) carries the year it starts in. Months outside every
    season are "Off-season <year>"."""
    for season in seasons or []:
        months = [int(m) for m in season.get("months", [])]
        if on.month not in months:
            continue
        # The first month of the run: the one whose previous month is not in the season.
        starts = [m for m in months if (m - 2) % 12 + 1 not in months] or [min(months)]
        year = on.year - 1 if on.month < starts[0] else on.year
        return f"{season['name']} {year}"
    return f"Off-season {on.year}"
