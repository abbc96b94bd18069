"""The budget dashboard: each program's budget as bars (committed, paid, pending, waitlisted)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.shortcuts import render
from django.views import View

from enrollment.incentives import selectors, services
from enrollment.incentives.views.base import TEMPLATES
from portal.charts import Tick, nice_ticks
from portal.roles import Cap
from portal.views import UtilityViewMixin

# Budget chart geometry, in SVG units: a label column, the plot, room for the value labels.
CHART_WIDTH, CHART_LEFT, CHART_RIGHT = 640, 96, 544
CHART_TOP, BAR_ROW, BAR_HEIGHT = 8, 36, 24


@dataclass(frozen=True)
class ChartBar:
    label: str
    value: Decimal
    y: float
    x: float
    width: float
    color: str
    text: str
    text_x: float


@dataclass(frozen=True)
class BudgetChart:
    """Horizontal bars for one program's budget, reserved, paid and remaining dollars."""

    title: str
    description: str
    bars: list[ChartBar]
    ticks: list[Tick]
    zero_x: float
    width: int = CHART_WIDTH
    left: int = CHART_LEFT
    right: int = CHART_RIGHT
    bar_height: int = BAR_HEIGHT
    plot_top: int = CHART_TOP
    plot_bottom: int = CHART_TOP + 4 * BAR_ROW
    tick_label_y: int = CHART_TOP + 4 * BAR_ROW + 16
    height: int = CHART_TOP + 4 * BAR_ROW + 26


def _tick_label(value: float) -> str:
    amount = Decimal(str(value))
    text = services.dollars(amount)
    return text[:-3] if amount == amount.to_integral_value() else text


def budget_chart(budget: selectors.Budget) -> BudgetChart:
    """Geometry of one program's budget chart. A negative remaining (the budget was lowered
    below what is committed) is drawn left of zero."""
    values = [
        ("Budget", budget.total, "#5b6676"),
        ("Reserved", budget.reserved, "#9a6400"),
        ("Paid", budget.paid, "#1f7a3a"),
        ("Remaining", budget.remaining, "#0b5cad"),
    ]
    amounts = [float(v) for _, v, _ in values]
    ticks = nice_ticks(min(0.0, *amounts), max(1.0, *amounts))
    low, high = ticks[0], ticks[-1]

    def x_of(value: float) -> float:
        return round(CHART_LEFT + (value - low) / (high - low) * (CHART_RIGHT - CHART_LEFT), 1)

    zero_x = x_of(0.0)
    bars = []
    for row, (label, value, color) in enumerate(values):
        end = x_of(float(value))
        bars.append(
            ChartBar(
                label=label,
                value=value,
                y=CHART_TOP + row * BAR_ROW + (BAR_ROW - BAR_HEIGHT) / 2,
                x=min(zero_x, end),
                width=max(abs(end - zero_x), 1.0),  # a zero still shows as a hairline
                color=color,
                text=services.dollars(value),
                text_x=max(zero_x, end) + 6,
            )
        )
    return BudgetChart(
        title=f"Incentive budget of {budget.program.name}",
        description=(
            f"Budget {services.dollars(budget.total)}: {services.dollars(budget.reserved)} "
            f"reserved by approvals, {services.dollars(budget.paid)} paid, "
            f"{services.dollars(budget.remaining)} remaining."
        ),
        bars=bars,
        ticks=[Tick(position=x_of(v), label=_tick_label(v)) for v in ticks],
        zero_x=zero_x,
    )


class BudgetDashboardView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "budget_dashboard.html"

    def get(self, request, *args, **kwargs):
        budgets = selectors.budgets(programs=list(selectors.programs()))
        rows = [{"budget": b, "chart": budget_chart(b)} for b in budgets]
        return render(request, self.template_name, {"rows": rows})
