"""Customer pages under /u/<utility_slug>/: the list, a customer's page with its timeline
and history, and the CSV import with its row-level report.

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.views.generic import DetailView, FormView, ListView

from portal.customers import selectors, services
from portal.customers.filters import ServiceAccountFilter
from portal.customers.forms import CustomerImportForm
from portal.downloads import csv_download
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin


class CustomerListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_CUSTOMERS
    filterset_class = ServiceAccountFilter
    template_name = "customers/customer_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.accounts()


class CustomerDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_CUSTOMERS
    template_name = "customers/customer_detail.html"
    context_object_name = "account"

    def get_queryset(self):
        return selectors.accounts()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["timeline"] = selectors.timeline(account=self.object)
        if self.request.access.can(Cap.VIEW_AUDIT):
            ctx["history"] = selectors.history(account=self.object)
        return ctx


class CustomerImportView(UtilityViewMixin, FormView):
    required_capability = Cap.IMPORT_CUSTOMERS
    form_class = CustomerImportForm
    template_name = "customers/customer_import.html"

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            recent=selectors.imports()[:10], columns=services.COLUMNS, **kwargs
        )

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        try:
            result = services.import_customers(
                utility=self.request.utility,
                raw=upload.read(services.MAX_UPLOAD_BYTES + 1),
                filename=upload.name,
                actor=self.request.user,
            )
        except services.CustomerFileError as exc:
            form.add_error("file", exc.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"Imported {result.imported}, updated {result.updated}, unchanged "
            f"{result.unchanged}, rejected {result.rejected}.",
        )
        return HttpResponseRedirect(
            reverse("utility:customer_import_detail", args=[self.request.utility.slug, result.pk])
        )


REPORT_ROWS_SHOWN = 500


class CustomerImportDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.IMPORT_CUSTOMERS
    template_name = "customers/customer_import_detail.html"
    context_object_name = "customer_import"

    def get_queryset(self):
        return selectors.imports()

    def get_context_data(self, **kwargs):
        rows = self.object.report
        # Rejected rows first: they are what needs attention.
        ordered = sorted(rows, key=lambda r: (r["outcome"] != "rejected", r["row"]))
        return super().get_context_data(
            rows=ordered[:REPORT_ROWS_SHOWN],
            rows_hidden=max(0, len(rows) - REPORT_ROWS_SHOWN),
            **kwargs,
        )


class CustomerImportReportView(UtilityViewMixin, DetailView):
    """The whole row-level report as CSV."""

    required_capability = Cap.IMPORT_CUSTOMERS

    def get_queryset(self):
        return selectors.imports()

    def get(self, request, *args, **kwargs):
        customer_import = self.get_object()
        return csv_download(
            filename=f"customer-import-{customer_import.pk}-report.csv",
            rows=services.report_rows(customer_import),
        )
