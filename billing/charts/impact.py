"""The billing-impact dashboard's charts, as horizontal bars (``portal.charts.bar_chart``)
drawn by templates/billing/_bar_chart.html with the numbers as a table: the distribution of
customers' net benefit, energy imported per TOU period (program vs counterfactual), and the
value of each measured event."""

from __future__ import annotations

from decimal import Decimal

from billing.selectors.impact import EventValue
from portal.charts import BarChart, BarValue, bar_chart, number_label

WIDTH, LEFT, RIGHT = 680, 150, 560
PROGRAM, COUNTERFACTUAL = "#1f5fa8", "#9a6400"


def dollars(value: Decimal) -> str:
    sign = "\u2212" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def savings_histogram(bins: list[tuple[Decimal, Decimal, int]]) -> BarChart:
    return bar_chart(
        title="Customers by net benefit in the month",
        description=(
            f"{sum(n for *_, n in bins)} customers in {len(bins)} bins of net benefit (bill "
            "savings plus incentives earned)."
        ),
        values=[
            BarValue(label=f"{dollars(low)} to {dollars(high)}", value=float(n),
                     text=f"{n} customers", title=f"{n} customers")
            for low, high, n in bins
        ],  # fmt: skip
        width=WIDTH, left=LEFT, right=RIGHT, unit="customers",
    )  # fmt: skip


def energy_by_period(rows) -> BarChart:
    values = []
    for _period, name, program_kwh, counterfactual_kwh in rows:
        values.append(
            BarValue(
                label=f"{name}: program",
                value=float(program_kwh),
                text=f"{number_label(float(program_kwh))} kWh",
                color=PROGRAM,
            )
        )
        values.append(BarValue(label=f"{name}: unmanaged", value=float(counterfactual_kwh),
                               text=f"{number_label(float(counterfactual_kwh))} kWh",
                               color=COUNTERFACTUAL))  # fmt: skip
    return bar_chart(
        title="Energy imported by TOU period",
        description="kWh imported in each time-of-use period with the program and in the "
        "counterfactual (unmanaged charging, no discharge).",
        values=values, width=WIDTH, left=LEFT, right=RIGHT, unit="kWh",
    )  # fmt: skip


def event_value(values: list[EventValue], *, tz) -> BarChart:
    return bar_chart(
        title="Value of each event",
        description="Per measured event of the month: the performance incentives approved for "
        "it (bar) and the kWh it delivered (label).",
        values=[
            BarValue(
                label=v.event.starts_at.astimezone(tz).strftime("%b %d %H:%M"),
                value=float(v.incentives),
                text=f"{dollars(v.incentives)} · {number_label(v.delivered_kwh)} kWh",
            )
            for v in values
        ],
        width=WIDTH, left=LEFT, right=RIGHT, unit="$",
    )  # fmt: skip
