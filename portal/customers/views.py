"""Customer pages under /u/<utility_slug>/: the list, a customer's page with its timeline,
history and authorization codes, the CSV import with its row-level report, and the failed
customer lookups by partners and installers.

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import DetailView, FormView, ListView
from django.views.generic.detail import SingleObjectMixin

from portal.customers import authorizations, selectors, services
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

    def get_context_data(self, **kwargs):
        since = timezone.now() - timedelta(days=1)
        return super().get_context_data(
            lookup_failures_today=selectors.lookup_failures().filter(at__gte=since).count(),
            **kwargs,
        )


class CustomerDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_CUSTOMERS
    template_name = "customers/customer_detail.html"
    context_object_name = "account"

    def get_queryset(self):
        return selectors.accounts()

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["timeline"] = selectors.timeline(account=self.object)
        now = timezone.now()
        ctx["authorizations"] = [
            (a, a.state(now)) for a in selectors.authorizations_of(self.object)
        ]
        ctx["can_manage"] = self.request.access.can(Cap.MANAGE_CUSTOMERS)
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


# --- Customer authorizations ----------------------------------------------------------------


class AuthorizationIssueView(UtilityViewMixin, SingleObjectMixin, View):
    """Issue a code for the customer. The page shows it once: only its hash is stored."""

    required_capability = Cap.MANAGE_CUSTOMERS

    def get_queryset(self):
        return selectors.accounts()

    def post(self, request, *args, **kwargs):
        account = self.get_object()
        authorization, code = authorizations.issue_authorization(
            account=account, actor=request.user
        )
        context = {"account": account, "authorization": authorization, "code": code}
        response = render(request, "customers/authorization_issued.html", context)
        response["Cache-Control"] = "no-store"
        return response


class AuthorizationRevokeView(UtilityViewMixin, View):
    """GET asks to confirm; POST revokes: the code stops working, and the party that used it
    needs a new code for this account."""

    required_capability = Cap.MANAGE_CUSTOMERS

    def _authorization(self, pk: int, authorization_pk: int):
        account = get_object_or_404(selectors.accounts(), pk=pk)
        return get_object_or_404(selectors.authorizations_of(account), pk=authorization_pk)

    def get(self, request, pk: int, authorization_pk: int, **kwargs):
        authorization = self._authorization(pk, authorization_pk)
        context = {
            "authorization": authorization,
            "account": authorization.service_account,
            "state": authorization.state(timezone.now()),
        }
        return render(request, "customers/authorization_revoke.html", context)

    def post(self, request, pk: int, authorization_pk: int, **kwargs):
        authorization = self._authorization(pk, authorization_pk)
        try:
            authorizations.revoke_authorization(authorization=authorization, actor=request.user)
        except authorizations.AuthorizationError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, "Authorization revoked: the code no longer works.")
        return HttpResponseRedirect(
            reverse("utility:customer_detail", args=[request.utility.slug, pk])
        )


class LookupFailureListView(UtilityViewMixin, ListView):
    """Failed customer lookups by partners and installers: who, how often, which accounts."""

    required_capability = Cap.VIEW_CUSTOMERS
    template_name = "customers/lookup_failures.html"
    paginate_by = 50

    def get_queryset(self):
        return selectors.lookup_failures()

    def get_context_data(self, **kwargs):
        now = timezone.now()
        summary = [
            ("Last 24 hours", selectors.lookup_failure_counts(since=now - timedelta(days=1))),
            ("Last 7 days", selectors.lookup_failure_counts(since=now - timedelta(days=7))),
        ]
        return super().get_context_data(summary=summary, **kwargs)
