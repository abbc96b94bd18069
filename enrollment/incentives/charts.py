"""The budget dashboard's chart: each program's budget, reserved, paid and remaining dollars
as horizontal bars (the shared geometry of ``portal.charts.bar_chart``), drawn by
templates/incentives/_budget_chart.html with the numbers as a table."""

from __future__ import annotations

from decimal import Decimal

from enrollment.incentives import selectors, services
from portal.charts import BarChart, BarValue, bar_chart

# A label column of 96 SVG units, the plot to 544, room for the dollar labels after it.
WIDTH, LEFT, RIGHT = 640, 96, 544


def _tick_label(value: float) -> str:
    amount = Decimal(str(value))
    text = services.dollars(amount)
    return text[:-3] if amount == amount.to_integral_value() else text


def budget_chart(budget: selectors.Budget) -> BarChart:
    """One program's budget chart. A negative remaining (the budget was lowered below what
    is committed) is drawn left of zero."""
    values = [
        ("Budget", budget.total, "#5b6676"),
        ("Reserved", budget.reserved, "#9a6400"),
        ("Paid", budget.paid, "#1f7a3a"),
        ("Remaining", budget.remaining, "#0b5cad"),
    ]
    return bar_chart(
        title=f"Incentive budget of {budget.program.name}",
        description=(
            f"Budget {services.dollars(budget.total)}: {services.dollars(budget.reserved)} "
            f"reserved by approvals, {services.dollars(budget.paid)} paid, "
            f"{services.dollars(budget.remaining)} remaining."
        ),
        values=[
            BarValue(label=label, value=float(value), text=services.dollars(value), color=color)
            for label, value, color in values
        ],
        width=WIDTH,
        left=LEFT,
        right=RIGHT,
        tick_label=_tick_label,
    )
