"""The daily energy chart of an account's meter data page: one horizontal bar per local day,
net kWh (import − export; export left of zero)."""

from __future__ import annotations

from django.utils.dateformat import format as date_format

from billing.selectors.meter import DailyEnergy
from portal.charts import BarChart, BarValue, bar_chart, number_label

IMPORT_COLOR, EXPORT_COLOR = "#2f6db5", "#2e8b57"


def daily_energy_chart(days: list[DailyEnergy], *, account_number: str) -> BarChart:
    values = [
        BarValue(
            label=date_format(day.day, "D j M"),
            value=float(day.net_kwh),
            text=f"{number_label(float(day.net_kwh))} kWh",
            title=(
                f"{day.day:%Y-%m-%d}: {day.import_kwh:.3f} kWh imported, "
                f"{day.export_kwh:.3f} kWh exported"
            ),
            color=IMPORT_COLOR if day.net_kwh >= 0 else EXPORT_COLOR,
        )
        for day in days
    ]
    total = sum((day.net_kwh for day in days), start=0)
    return bar_chart(
        title=f"Daily net energy of account {account_number}",
        description=(
            f"Net kWh per day (import minus export) over {len(days)} day(s) with meter data, "
            f"{number_label(float(total))} kWh in all."
        ),
        values=values,
        row_height=22,
        bar_height=14,
        unit="kWh",
    )
