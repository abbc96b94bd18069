"""The event's M&V report: per-interval table and chart (from ``dispatch.charts``), summary, per-vehicle results, the
"Measure now" action and the per-vehicle, per-interval CSV.

URL names (namespace "utility"): ``event_report``, ``event_report_csv``, ``event_measure``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView

from dispatch import selectors, tasks
from dispatch.charts import REPORT_SERIES, report_chart
from dispatch.measurement.baselines import DISPATCHED, INTERVAL, MeasurementError
from dispatch.measurement.run import check_measurable, measure_delay, measure_event
from dispatch.models import Event, EventParticipant
from enrollment.incentives.models import Incentive, IncentiveOffer
from portal.downloads import csv_download
from portal.roles import Cap
from portal.tasking import enqueue_on_commit
from portal.views import UtilityViewMixin

VEHICLES_PER_PAGE = 50

# --- Pages ----------------------------------------------------------------------------------


def interval_rows(event: Event) -> list[dict]:
    """The measured intervals as rows: start, end and the kW totals."""
    result = event.measurement or {}
    return [
        {
            "start": (start := datetime.fromisoformat(iso)),
            "end": start + INTERVAL,
            **{key: values.get(key) for key, *_ in REPORT_SERIES},
        }
        for iso, values in zip(
            result.get("interval_starts", []), result.get("intervals", []), strict=False
        )
    ]


def _dispatched(event: Event):
    return EventParticipant.objects.filter(event=event, role__in=DISPATCHED)


def _awarded(event: Event, enrollment_ids: list[int]) -> dict[int, Incentive]:
    """The event's performance incentives for these enrollments (one query)."""
    if not enrollment_ids:
        return {}
    rows = Incentive.objects.filter(
        program_id=event.program_id,
        offer__kind=IncentiveOffer.Kind.EVENT_PERFORMANCE,
        period_key=f"event:{event.pk}",
        enrollment_id__in=enrollment_ids,
    ).exclude(status=Incentive.Status.REJECTED)
    return {i.enrollment_id: i for i in rows}


class EventReportView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_EVENTS
    template_name = "dispatch/event_report.html"
    context_object_name = "event"

    def get_queryset(self):
        return selectors.event_list()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        event, now = self.object, timezone.now()
        status = Event.Status(event.status_at(now))
        tz = self.request.utility.tzinfo
        ctx.update(
            status=status,
            tz=tz,
            can_measure=(
                self.request.access.can(Cap.DISPATCH_EVENTS) and status == Event.Status.COMPLETED
            ),
            measure_due_at=event.ends_at + measure_delay(),
            measure_overdue=now >= event.ends_at + measure_delay(),
            measuring=measuring(event),
        )
        if event.measured_at is None:
            return ctx
        rows = interval_rows(event)
        page = Paginator(
            _dispatched(event).select_related("vehicle").order_by("vehicle__vin", "pk"),
            VEHICLES_PER_PAGE,
        ).get_page(self.request.GET.get("page"))
        awarded = _awarded(event, [p.enrollment_id for p in page if p.enrollment_id])
        details = event.measurement.get("participants", {})
        ctx.update(
            rows=rows,
            chart=report_chart(rows=rows, tz=tz),
            summary=event.measurement.get("summary", {}),
            rebound=event.measurement.get("rebound"),
            incentives=event.measurement.get("incentives"),
            page_obj=page,
            paginator=page.paginator,
            is_paginated=page.has_other_pages(),
            vehicles=[(p, details.get(str(p.pk), {}), awarded.get(p.enrollment_id)) for p in page],
        )
        return ctx


def measuring(event: Event) -> bool:
    """A background measurement was asked for and has not finished yet."""
    requested = event.measure_requested_at
    return requested is not None and (event.measured_at is None or event.measured_at < requested)


class EventMeasureView(UtilityViewMixin, View):
    """Measure now: measures the ended event at once, then awards its incentives in the
    background (one award per participant can take a while for a large event). An event
    with more than ``DISPATCH_MEASURE_INLINE_MAX_VEHICLES`` dispatched vehicles is measured
    in the background too, the report saying so (and refreshing) until it is done."""

    required_capability = Cap.DISPATCH_EVENTS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        event = get_object_or_404(selectors.event_list(), pk=kwargs["pk"])
        vehicles = _dispatched(event).count()
        try:
            if vehicles > settings.DISPATCH_MEASURE_INLINE_MAX_VEHICLES:
                check_measurable(event, now=timezone.now())
                return self._in_background(request, event, vehicles)
            result = measure_event(event.pk, actor=request.user, award=False)
        except MeasurementError as exc:
            # The report again, saying why (nothing was changed).
            report = EventReportView(request=request, kwargs=kwargs, object=event)
            report.object = event
            return report.render_to_response(
                report.get_context_data(object=event, refused=exc.message)
            )
        enqueue_on_commit(
            tasks.award_event_incentives, utility_id=request.utility.pk, event_id=event.pk
        )
        messages.success(
            request,
            f"Measured: {result.delivered_kwh:g} kWh delivered by {result.participants} "
            "dispatched vehicle(s). Performance incentives are being awarded.",
        )
        return HttpResponseRedirect(
            reverse("utility:event_report", args=[request.utility.slug, event.pk])
        )

    def _in_background(self, request, event: Event, vehicles: int):
        if not measuring(event):  # a second click while it runs queues nothing more
            event.measure_requested_at = timezone.now()
            Event.objects.filter(pk=event.pk).update(
                measure_requested_at=event.measure_requested_at
            )
            enqueue_on_commit(tasks.measure_event, utility_id=request.utility.pk, event_id=event.pk)
        messages.info(
            request,
            f"Measuring {vehicles:,} dispatched vehicles in the background: the report appears "
            "here when it is done (this page refreshes on its own).",
        )
        return HttpResponseRedirect(
            reverse("utility:event_report", args=[request.utility.slug, event.pk])
        )


class EventReportCsvView(UtilityViewMixin, View):
    """Per vehicle and interval: VIN, interval start (local time), baseline, actual and
    delivered kW (period "event"), then the hour after the event's end: load above the
    baseline as rebound kW (period "rebound", never delivery), streamed."""

    required_capability = Cap.VIEW_EVENTS
    HEADER = [
        "vin", "role", "interval_start", "baseline_kw", "actual_kw", "delivered_kw", "period",
        "rebound_kw",
    ]  # fmt: skip

    def get(self, request, *args, **kwargs):
        event = get_object_or_404(selectors.event_list(), pk=kwargs["pk"])
        if event.measured_at is None:
            messages.info(request, f"{event} has not been measured yet: there is no CSV.")
            return HttpResponseRedirect(
                reverse("utility:event_report", args=[request.utility.slug, event.pk])
            )
        tz = request.utility.tzinfo
        starts = [
            datetime.fromisoformat(s).astimezone(tz).isoformat()
            for s in event.measurement.get("interval_starts", [])
        ]
        rebound_starts = [
            datetime.fromisoformat(i["start"]).astimezone(tz).isoformat()
            for i in event.measurement.get("rebound", {}).get("intervals", [])
        ]
        rows = (
            _dispatched(event)
            .order_by("vehicle__vin", "pk")
            .values_list(
                "vehicle__vin", "role", "baseline_kw", "actual_kw", "delivered_kw", "rebound_kw"
            )
        )
        return csv_download(
            filename=f"{request.utility.slug}-event-{event.pk}-mv.csv",
            header=self.HEADER,
            rows=_csv_rows(rows, starts, rebound_starts),
        )


def _csv_rows(rows, starts: list[str], rebound_starts: list[str]) -> Iterator[list]:
    def at(values, i):
        value = values[i] if values and i < len(values) else None
        return "" if value is None else value

    for vin, role, baseline, actual, delivered_kw, rebound in rows.iterator(chunk_size=2000):
        for i, start in enumerate(starts):
            yield [
                vin, role, start, at(baseline, i), at(actual, i), at(delivered_kw, i), "event", "",
            ]  # fmt: skip
        for i, start in enumerate(rebound_starts):
            yield [vin, role, start, "", "", "", "rebound", at(rebound, i)]
