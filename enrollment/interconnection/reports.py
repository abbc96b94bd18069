"""The interconnection report for regulators: business days per stage and to PTO (median
and 90th percentile), SLA breaches, first-pass acceptance per installer and AHJ turnaround.

Each figure is one grouped query: durations come back as a histogram (value, count), from
which the percentiles are read exactly, so the report costs the same few queries whether
the utility has 20 applications or 20,000. Percentiles are nearest-rank: the smallest value
with at least that share of the observations at or below it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from enrollment.interconnection.models import InterconnectionApplication, SlaClock
from enrollment.interconnection.selectors import warning_horizon
from portal.charts import BarChart, BarValue, bar_chart, number_label
from portal.models import Utility

Application = InterconnectionApplication
Status = Application.Status
Stage = SlaClock.Stage


def percentile(histogram: dict[int, int], fraction: float) -> int | None:
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(math.ceil(fraction * total), 1)
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)  # unreachable: the counts add up to total


@dataclass
class Durations:
    label: str
    count: int = 0
    median: int | None = None
    p90: int | None = None

    @classmethod
    def of(cls, label: str, histogram: dict[int, int]) -> Durations:
        return cls(
            label=label,
            count=sum(histogram.values()),
            median=percentile(histogram, 0.5),
            p90=percentile(histogram, 0.9),
        )


@dataclass
class Breaches:
    label: str
    breached_closed: int = 0
    overdue_open: int = 0
    due_soon: int = 0


@dataclass
class FirstPass:
    installer: str
    reviewed: int
    first_pass: int

    @property
    def rate_pct(self) -> float:
        return 100.0 * self.first_pass / self.reviewed if self.reviewed else 0.0


@dataclass
class Report:
    utility: Utility
    stages: list[Durations] = field(default_factory=list)
    to_pto: Durations | None = None
    breaches: list[Breaches] = field(default_factory=list)
    first_pass: list[FirstPass] = field(default_factory=list)
    ahj_turnaround: list[tuple[str, Durations, Durations]] = field(default_factory=list)


# A decision on completeness has been made: these count for first-pass acceptance.
REVIEWED_STATES = [
    Status.NEEDS_INFO,
    Status.TECHNICAL_REVIEW,
    Status.APPROVED_TO_INSTALL,
    Status.INSTALLED,
    Status.PTO_GRANTED,
    Status.REJECTED,
]


def build(*, utility: Utility) -> Report:
    """The report for the utility in scope."""
    report = Report(utility=utility)
    finished = SlaClock.objects.filter(stopped_on__isnull=False)

    by_stage: dict[str, dict[int, int]] = defaultdict(dict)
    for stage, days, n in (
        finished.values_list("stage", "elapsed_business_days").annotate(n=Count("id")).order_by()
    ):
        by_stage[stage][days] = n
    report.stages = [Durations.of(label, by_stage.get(stage, {})) for stage, label in Stage.choices]

    pto_histogram = dict(
        Application.objects.filter(status=Status.PTO_GRANTED, business_days_to_pto__isnull=False)
        .values_list("business_days_to_pto")
        .annotate(n=Count("id"))
        .order_by()
    )
    report.to_pto = Durations.of("Submission to PTO", pto_histogram)

    today = timezone.localdate(timezone.now(), utility.tzinfo)
    horizon = warning_horizon(utility, today)
    running = Q(stopped_on__isnull=True, paused_since__isnull=True)
    breach_rows = {
        row["stage"]: row
        for row in SlaClock.objects.values("stage")
        .annotate(
            closed=Count("id", filter=Q(breached=True)),
            overdue=Count("id", filter=running & Q(due_on__lt=today)),
            soon=Count("id", filter=running & Q(due_on__gte=today, due_on__lte=horizon)),
        )
        .order_by()
    }
    report.breaches = [
        Breaches(
            label,
            breach_rows.get(stage, {}).get("closed", 0),
            breach_rows.get(stage, {}).get("overdue", 0),
            breach_rows.get(stage, {}).get("soon", 0),
        )
        for stage, label in Stage.choices
    ]

    reviewed = Q(status__in=REVIEWED_STATES) | Q(deficiency_rounds__gt=0)
    report.first_pass = [
        FirstPass(name, total, first)
        for name, total, first in Application.objects.filter(reviewed)
        .values_list("installer__name")
        .annotate(total=Count("id"), first=Count("id", filter=Q(deficiency_rounds=0)))
        .order_by("installer__name")
    ]

    ahj_hist: dict[str, dict[str, dict[int, int]]] = defaultdict(lambda: defaultdict(dict))
    for name, stage, days, n in (
        finished.filter(stage__in=SlaClock.AHJ_STAGES)
        .values_list("application__ahj__name", "stage", "elapsed_business_days")
        .annotate(n=Count("id"))
        .order_by()
    ):
        ahj_hist[name or "—"][stage][days] = n
    report.ahj_turnaround = [
        (
            name,
            Durations.of(Stage.PERMIT.label, stages.get(Stage.PERMIT, {})),
            Durations.of(Stage.INSPECTION.label, stages.get(Stage.INSPECTION, {})),
        )
        for name, stages in sorted(ahj_hist.items())
    ]
    return report


# --- Charts (inline SVG, drawn by the template from the shared bar geometry) ---------------

# A label column of 220 units, then 360 of plot: installer and stage names are long.
CHART_LEFT, CHART_RIGHT, BAR_SPACING = 220, 580, 34
FIRST_PASS_ROWS = 30


def _days(value: int | None) -> str:
    return "—" if value is None else str(value)


def _duration_chart(title: str, rows: list[Durations]) -> BarChart:
    """The median as a dark bar in front of the 90th percentile as a light one."""
    return bar_chart(
        title=title,
        description="; ".join(
            f"{r.label}: median {_days(r.median)}, 90th percentile {_days(r.p90)}" for r in rows
        )
        + " (business days).",
        values=[
            BarValue(
                label=r.label,
                value=r.median,
                text=f"{_days(r.median)} / {_days(r.p90)}",
                title=f"median {_days(r.median)}",
                behind=r.p90,
                behind_title=f"90th percentile {r.p90}",
            )
            for r in rows
        ],
        left=CHART_LEFT,
        right=CHART_RIGHT,
        row_height=BAR_SPACING,
        bar_height=12,
        behind_height=20,
        unit="business days",
    )


def _first_pass_chart(rows: list[FirstPass]) -> BarChart:
    shown = rows[:FIRST_PASS_ROWS]
    return bar_chart(
        title="First-pass acceptance by installer",
        description="; ".join(f"{f.installer}: {round(f.rate_pct)}%" for f in shown) + ".",
        values=[
            BarValue(
                label=f.installer,
                value=f.rate_pct,
                text=f"{round(f.rate_pct)}%",
                title=f"{round(f.rate_pct)}%",
            )
            for f in shown
        ],
        left=CHART_LEFT,
        right=CHART_RIGHT,
        row_height=BAR_SPACING,
        bar_height=12,
        high=100,
        tick_label=lambda v: f"{number_label(v)}%",
        unit="%",
    )


def charts(report: Report) -> dict[str, BarChart]:
    rows = [*report.stages, report.to_pto] if report.to_pto else list(report.stages)
    return {
        "stages": _duration_chart("Business days per stage (median and 90th percentile)", rows),
        "first_pass": _first_pass_chart(report.first_pass),
    }


def csv_rows(report: Report) -> list[list]:
    rows: list[list] = [["section", "name", "measure", "value"]]
    for d in [*report.stages, report.to_pto]:
        rows += [
            ["duration_business_days", d.label, "count", d.count],
            ["duration_business_days", d.label, "median", d.median if d.median is not None else ""],
            ["duration_business_days", d.label, "p90", d.p90 if d.p90 is not None else ""],
        ]
    for b in report.breaches:
        rows += [
            ["sla", b.label, "breached_closed", b.breached_closed],
            ["sla", b.label, "overdue_open", b.overdue_open],
            ["sla", b.label, "due_within_2_business_days", b.due_soon],
        ]
    for f in report.first_pass:
        rows += [
            ["first_pass", f.installer, "reviewed", f.reviewed],
            ["first_pass", f.installer, "accepted_first_pass", f.first_pass],
            ["first_pass", f.installer, "rate_pct", f"{f.rate_pct:.1f}"],
        ]
    for name, permit, inspection in report.ahj_turnaround:
        for d in (permit, inspection):
            rows += [
                [
                    "ahj_turnaround",
                    name,
                    f"{d.label} median",
                    d.median if d.median is not None else "",
                ],
                ["ahj_turnaround", name, f"{d.label} p90", d.p90 if d.p90 is not None else ""],
                ["ahj_turnaround", name, f"{d.label} count", d.count],
            ]
    return rows
