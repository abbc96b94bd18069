"""The program billing-impact dashboard and the printable per-customer statement."""

from __future__ import annotations

from datetime import date, timedelta

from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views import View

from billing.charts import impact as charts
from billing.forms.settlement import ProgramMonthForm
from billing.models import SettlementLine
from billing.selectors import impact as selectors
from portal.roles import Cap
from portal.views import UtilityViewMixin


def _last_full_month(today: date) -> date:
    return (today.replace(day=1) - timedelta(days=1)).replace(day=1)


class BillingDashboardView(UtilityViewMixin, View):
    """Per program and month: customers' savings (total and distribution), incentives
    earned and paid, peak kW reduced (M&V) and cost per kW, from the latest computed run."""

    required_capability = Cap.VIEW_BILLING
    template_name = "billing/impact_dashboard.html"

    def get(self, request, *args, **kwargs):
        form = ProgramMonthForm(request.GET or None)
        context = {"form": form, "impact": None}
        if form.is_bound and form.is_valid():
            program, month_start = form.cleaned_data["program"], form.cleaned_data["month"]
            run = selectors.impact_run(program=program, period_start=month_start)
            context.update(program=program, month_start=month_start, run=run)
            if run is not None:
                context.update(self._figures(run))
        elif not form.is_bound:
            context["default_month"] = _last_full_month(timezone.localdate()).strftime("%Y-%m")
        return render(request, self.template_name, context)

    def _figures(self, run) -> dict:
        tz = self.request.utility.tzinfo
        month = selectors.run_month(run)
        events = selectors.event_values(program=run.program, month=month)
        return {
            "impact": selectors.program_impact(run),
            "histogram": charts.savings_histogram(selectors.savings_histogram(run)),
            "energy_chart": charts.energy_by_period(selectors.energy_by_period(run)),
            "event_chart": charts.event_value(events, tz=tz) if events else None,
            "events": events,
        }


class StatementView(UtilityViewMixin, View):
    """One customer's month: bill with the program vs the counterfactual, line items of both,
    energy per TOU period, V2H / V2G values, events and incentives — printable."""

    required_capability = Cap.VIEW_BILLING
    template_name = "billing/statement.html"

    def get(self, request, *args, pk: int, **kwargs):
        line = get_object_or_404(
            SettlementLine.objects.select_related("run__program", "service_account"), pk=pk
        )
        return render(
            request,
            self.template_name,
            {
                "line": line,
                "run": line.run,
                "participations": selectors.statement_events(line),
                "energy": sorted(line.energy_by_period.items(), key=lambda kv: int(kv[0])),
                "disputes": line.disputes.order_by("-opened_at"),
                "can_manage": request.access.can(Cap.MANAGE_SETTLEMENT),
            },
        )
