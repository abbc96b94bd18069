"""Meter data pages under /u/<utility_slug>/billing/meter/: the import form and its report,
the list of imports, and an account's meter data (daily energy chart, import history).

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here; the import form finds accounts only in the current utility."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.generic import DetailView, FormView, ListView

from billing.charts.meter import daily_energy_chart
from billing.filters.meter import MeterImportFilter
from billing.forms.meter import MeterImportForm, MeterPeriodForm
from billing.selectors import meter as selectors
from billing.services.meter import MeterFileError, import_meter_file, max_upload_bytes
from portal.customers.models import ServiceAccount
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin

REJECTED_SHOWN = 200
DEFAULT_DAYS = 31


class UploadLimit(FileUploadHandler):
    """Drops a file as soon as more than ``limit`` bytes of it have arrived, so an oversized
    upload is never kept whole (in memory or on disk); the form then says why."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.exceeded = False

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            self.exceeded = True
            raise SkipFile
        return raw_data

    def file_complete(self, file_size):
        return None


@method_decorator(csrf_exempt, name="dispatch")  # checked below, once the limit is installed
class MeterImportView(UtilityViewMixin, FormView):
    required_capability = Cap.MANAGE_SETTLEMENT
    form_class = MeterImportForm
    template_name = "billing/meter_import.html"

    def dispatch(self, request, *args, **kwargs):
        # Upload handlers can only change before the body is parsed, which the CSRF check
        # would do: so the limit goes in first and the CSRF check runs after it.
        self.upload_limit = UploadLimit(request, limit=max_upload_bytes())
        request.upload_handlers.insert(0, self.upload_limit)
        return csrf_protect(super().dispatch)(request, *args, **kwargs)

    def get_initial(self):
        return {"account_number": self.request.GET.get("account", "")}

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "usage_points": getattr(self, "usage_points", ())}

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            recent=selectors.imports()[:10], limit_bytes=max_upload_bytes(), **kwargs
        )

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if self.upload_limit.exceeded:
            form.is_valid()
            form.errors.pop("file", None)
            form.add_error("file", f"The file is over the limit of {max_upload_bytes():,} bytes.")
            return self.form_invalid(form)
        return self.form_valid(form) if form.is_valid() else self.form_invalid(form)

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        account = form.cleaned_data["account_number"]
        try:
            result = import_meter_file(
                utility=self.request.utility,
                account=account,
                data=upload.read(max_upload_bytes() + 1),
                filename=upload.name or "upload",
                actor=self.request.user,
                usage_point=form.cleaned_data["usage_point"] or None,
            )
        except MeterFileError as error:
            if error.usage_points:
                self.usage_points = error.usage_points
                form = self.get_form()
                form.is_valid()
                form.errors.pop("usage_point", None)
                form.errors.pop("file", None)
                form.add_error(
                    "file",
                    f"{error.message} Pick it below and choose the file again (a browser never "
                    "keeps a chosen file).",
                )
            else:
                form.add_error("file", error.message)
            return self.form_invalid(form)
        messages.success(
            self.request,
            f"{result.readings_imported} readings imported, {result.duplicates_skipped} "
            f"duplicates skipped, {result.readings_rejected} rejected.",
        )
        return HttpResponseRedirect(
            reverse("utility:meter_import_detail", args=[self.request.utility.slug, result.pk])
        )


class MeterImportListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_BILLING
    filterset_class = MeterImportFilter
    template_name = "billing/meter_import_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.imports()

    def get_context_data(self, **kwargs):
        can_import = self.request.access.can(Cap.MANAGE_SETTLEMENT)
        return super().get_context_data(can_import=can_import, **kwargs)


class MeterImportDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_BILLING
    template_name = "billing/meter_import_detail.html"
    context_object_name = "meter_import"

    def get_queryset(self):
        return selectors.imports()

    def get_context_data(self, **kwargs):
        meter_import = self.object
        rejected = meter_import.rejected[:REJECTED_SHOWN]
        return super().get_context_data(
            rejected_rows=rejected,
            rejected_hidden=meter_import.readings_rejected - len(rejected),
            **kwargs,
        )


class MeterAccountView(UtilityViewMixin, DetailView):
    """An account's meter data: daily energy over a period (default: the last month of data)
    and its import history."""

    required_capability = Cap.VIEW_BILLING
    template_name = "billing/meter_account.html"
    context_object_name = "account"

    def get_queryset(self):
        return ServiceAccount.objects.all()

    def _period(self, form: MeterPeriodForm, last: datetime | None):
        tz = self.request.utility.tzinfo
        cleaned = form.cleaned_data if form.is_valid() else {}
        end = cleaned.get("end") or (last.astimezone(tz).date() if last else None)
        if end is None:
            return None, None
        start = cleaned.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        if (end - start).days >= MeterPeriodForm.MAX_DAYS:
            start = end - timedelta(days=MeterPeriodForm.MAX_DAYS - 1)
        return start, end

    def get_context_data(self, **kwargs):
        account = self.object
        tz = self.request.utility.tzinfo
        first, last = selectors.data_span(account)
        form = MeterPeriodForm(self.request.GET or None)
        start, end = self._period(form, last)
        days = []
        if start is not None:
            days = selectors.daily_energy(
                account,
                start=datetime.combine(start, time(), tzinfo=tz).astimezone(UTC),
                end=datetime.combine(end + timedelta(days=1), time(), tzinfo=tz).astimezone(UTC),
                tz=tz,
            )
        return super().get_context_data(
            period_form=form,
            period=(start, end),
            data_span=(first, last),
            days=days,
            chart=daily_energy_chart(days, account_number=account.account_number) if days else None,
            account_imports=selectors.imports().filter(service_account=account)[:20],
            can_import=self.request.access.can(Cap.MANAGE_SETTLEMENT),
            **kwargs,
        )
