"""Tariff pages: the list, import (upload or paste) with its report, a tariff's heat maps and
charges, and its assignments to rate classes and service accounts."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.generic import DetailView, FormView, ListView

from billing.forms.tariffs import EndAssignmentForm, TariffAssignForm, TariffImportForm
from billing.rates import display
from billing.rates.urdb import TariffError, decode_document
from billing.selectors import tariffs as selectors
from billing.services import tariffs as services
from portal.audit import history_of
from portal.roles import Cap
from portal.views import UtilityViewMixin

TEMPLATES = "billing/"


def _url(request, name: str, *args) -> str:
    return reverse(f"utility:{name}", args=[request.utility.slug, *args])


class TariffListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_BILLING
    template_name = TEMPLATES + "tariff_list.html"
    context_object_name = "tariffs"
    paginate_by = 50

    def get_queryset(self):
        return selectors.tariffs().annotate(assignment_count=Count("assignments"))

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_SETTLEMENT), **kwargs
        )


class TariffImportView(UtilityViewMixin, FormView):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = TEMPLATES + "tariff_import.html"
    form_class = TariffImportForm

    def form_valid(self, form):
        try:
            document = decode_document(form.document_data())
            report = services.import_tariff(
                utility=self.request.utility,
                document=document,
                actor=self.request.user,
                effective_from=form.cleaned_data["effective_from"],
                effective_to=form.cleaned_data["effective_to"],
            )
        except (TariffError, services.TariffRefused) as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        # The report is this page's answer; the tariff's own page links from it.
        return render(
            self.request,
            self.template_name,
            {"form": self.form_class(), "report": report, "tariff": report.tariff},
        )


class TariffDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_BILLING
    template_name = TEMPLATES + "tariff_detail.html"
    context_object_name = "tariff"

    def get_queryset(self):
        return selectors.tariffs()

    def get_context_data(self, **kwargs):
        schedule = self.object.schedule_obj
        access = self.request.access
        return super().get_context_data(
            schedule=schedule,
            energy_maps=display.energy_maps(schedule),
            demand_maps=display.demand_maps(schedule),
            flat_demand=display.flat_demand_by_month(schedule),
            other_charges=display.other_charges(schedule),
            flat_demand_periods=[
                (p.label, display.tier_descriptions(p, "kW")) for p in schedule.flat_demand_periods
            ],
            hours=display.HOURS,
            versions=selectors.versions_of(self.object),
            assignments=selectors.assignments_of(self.object)[:100],
            can_manage=access.can(Cap.MANAGE_SETTLEMENT),
            history=history_of(self.object).order_by("created_at", "id")[:50]
            if access.can(Cap.VIEW_AUDIT)
            else None,
            **kwargs,
        )


class TariffAssignmentListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_BILLING
    template_name = TEMPLATES + "tariff_assignment_list.html"
    context_object_name = "assignments"
    paginate_by = 100

    def get_queryset(self):
        return selectors.assignments()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_SETTLEMENT), **kwargs
        )


class TariffAssignView(UtilityViewMixin, FormView):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = TEMPLATES + "tariff_assign.html"
    form_class = TariffAssignForm

    def get_tariff(self):
        return get_object_or_404(selectors.tariffs(), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(tariff=self.get_tariff(), **kwargs)

    def form_valid(self, form):
        tariff = self.get_tariff()
        data = form.cleaned_data
        try:
            assignment = services.assign_tariff(
                utility=self.request.utility,
                tariff=tariff,
                rate_class=data["rate_class"],
                service_account=data["service_account"],
                effective_from=data["effective_from"],
                effective_to=data["effective_to"],
                actor=self.request.user,
            )
        except services.TariffRefused as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(self.request, f"Assigned “{tariff.name}” to {assignment.target_label}.")
        return HttpResponseRedirect(_url(self.request, "tariff_detail", tariff.pk))


class TariffAssignmentEndView(UtilityViewMixin, FormView):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = TEMPLATES + "tariff_assignment_end.html"
    form_class = EndAssignmentForm

    def get_assignment(self):
        return get_object_or_404(selectors.assignments(), pk=self.kwargs["pk"])

    def get_context_data(self, **kwargs):
        return super().get_context_data(assignment=self.get_assignment(), **kwargs)

    def form_valid(self, form):
        assignment = self.get_assignment()
        try:
            services.end_assignment(
                assignment=assignment,
                last_day=form.cleaned_data["last_day"],
                actor=self.request.user,
            )
        except services.TariffRefused as error:
            form.add_error(None, error.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"“{assignment.tariff.name}” for {assignment.target_label} ends "
            f"{assignment.effective_to}.",
        )
        return HttpResponseRedirect(_url(self.request, "tariff_detail", assignment.tariff_id))
