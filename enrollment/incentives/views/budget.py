"""The budget dashboard: each program's budget as bars (committed, paid, pending, waitlisted)."""

from __future__ import annotations

from django.shortcuts import render
from django.views import View

from enrollment.incentives import selectors
from enrollment.incentives.charts import budget_chart
from enrollment.incentives.views.base import TEMPLATES
from portal.roles import Cap
from portal.views import UtilityViewMixin


class BudgetDashboardView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "budget_dashboard.html"

    def get(self, request, *args, **kwargs):
        budgets = selectors.budgets(programs=list(selectors.programs()))
        rows = [{"budget": b, "chart": budget_chart(b)} for b in budgets]
        return render(request, self.template_name, {"rows": rows})
