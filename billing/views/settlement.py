"""Settlement pages: the runs, starting one, a run's review page (progress, totals, lines,
the difference from the previous version, disputes), its transitions, its two files."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from billing.forms.settlement import DisputeForm, LineFilterForm, StartRunForm
from billing.models import SettlementDispute, SettlementLine, SettlementRun
from billing.selectors import settlement as selectors
from billing.services import settlement as services
from billing.services.errors import SettlementError
from portal.audit import history_of
from portal.downloads import csv_download
from portal.identity.reauth import RecentAuthRequiredMixin
from portal.roles import Cap
from portal.views import UtilityViewMixin

# While a run computes, its page reloads itself this often (a meta refresh: no script).
REFRESH_SECONDS = 3


def utility_url(request, name: str, *args) -> str:
    return reverse(f"utility:{name}", args=[request.utility.slug, *args])


class SettlementListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_BILLING
    template_name = "billing/settlement_list.html"
    context_object_name = "runs"
    paginate_by = 50

    def get_queryset(self):
        return selectors.runs()

    def get_context_data(self, **kwargs):
        can_manage = self.request.access.can(Cap.MANAGE_SETTLEMENT)
        return super().get_context_data(
            can_manage=can_manage, form=StartRunForm() if can_manage else None, **kwargs
        )


class SettlementStartView(UtilityViewMixin, View):
    """GET: the form; POST: a new run (version 1, or the next version of the month)."""

    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = "billing/settlement_start.html"

    def get(self, request, *args, **kwargs):
        return render(
            request, self.template_name, {"form": StartRunForm(initial=request.GET.dict())}
        )

    def post(self, request, *args, **kwargs):
        form = StartRunForm(request.POST)
        if form.is_valid():
            try:
                period = services.month_start(
                    year=form.cleaned_data["month"].year,
                    month=form.cleaned_data["month"].month,
                    today=timezone.localdate(),
                )
                run = services.start_run(
                    program=form.cleaned_data["program"], period_start=period, actor=request.user
                )
            except SettlementError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"{run} started: {run.enrollment_count} enrollment(s).")
                return redirect(utility_url(request, "settlement_detail", run.pk))
        return render(request, self.template_name, {"form": form})


class SettlementDetailView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_BILLING
    template_name = "billing/settlement_detail.html"
    lines_per_page = 50

    def get(self, request, *args, pk: int, **kwargs):
        run = get_object_or_404(selectors.runs(), pk=pk)
        filters = LineFilterForm(request.GET)
        query, show = "", ""
        if filters.is_valid():
            query, show = filters.cleaned_data["q"], filters.cleaned_data["show"]
        lines = Paginator(selectors.lines(run=run, query=query, show=show), self.lines_per_page)
        page = lines.get_page(request.GET.get("page"))
        access = request.access
        context = {
            "run": run,
            "progress": selectors.progress_percent(run),
            "refresh_seconds": REFRESH_SECONDS if run.status == run.Status.RUNNING else None,
            "filters": filters,
            "lines": page,
            "page_obj": page,
            "paginator": lines,
            "is_paginated": page.has_other_pages(),
            "diff": selectors.diff_page(run=run, page=request.GET.get("diff_page")),
            "disputes": selectors.disputes(run=run)[:100],
            "history": history_of(run).order_by("created_at", "id")[:50]
            if access.can(Cap.VIEW_AUDIT)
            else None,
            "can_manage": access.can(Cap.MANAGE_SETTLEMENT),
            "can_approve": access.can(Cap.APPROVE_SETTLEMENT),
            "export_kinds": list(selectors.EXPORT_KINDS),
        }
        return render(request, self.template_name, context)


class RunActionView(UtilityViewMixin, View):
    """One step of a run (GET: confirm; POST: do it, against the state the page showed)."""

    template_name = "billing/settlement_action.html"
    title = ""
    button = ""
    question = ""

    def act(self, run: SettlementRun, expected: str) -> tuple[SettlementRun, str]:
        raise NotImplementedError

    def get(self, request, *args, pk: int, **kwargs):
        run = get_object_or_404(selectors.runs(), pk=pk)
        return render(
            request,
            self.template_name,
            {"run": run, "title": self.title.format(run=run), "button": self.button,
             "question": self.question.format(run=run),
             "cancel_url": utility_url(request, "settlement_detail", run.pk)},
        )  # fmt: skip

    def post(self, request, *args, pk: int, **kwargs):
        run = get_object_or_404(SettlementRun.objects.all(), pk=pk)
        try:
            target, message = self.act(run, request.POST.get("expected") or None)
        except SettlementError as error:
            messages.error(request, error.message)
            target = run
        else:
            messages.success(request, message)
        return redirect(utility_url(request, "settlement_detail", target.pk))


class SettlementReviewView(RunActionView):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Mark {run} reviewed"
    button = "Mark reviewed"
    question = "You checked the lines of this run; another person approves it next."

    def act(self, run, expected):
        run = services.mark_reviewed(run_id=run.pk, actor=self.request.user, expected=expected)
        return run, f"{run} marked reviewed."


class SettlementApproveView(RecentAuthRequiredMixin, RunActionView):
    required_capability = Cap.APPROVE_SETTLEMENT
    title = "Approve {run}"
    button = "Approve"
    question = "Approve the reviewed run for export (you cannot approve a run you reviewed)."

    def act(self, run, expected):
        run = services.approve(run_id=run.pk, actor=self.request.user, expected=expected)
        return run, f"{run} approved."


class SettlementExportView(RecentAuthRequiredMixin, RunActionView):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Export {run}"
    button = "Export"
    question = (
        "Export the approved run: its bill-credit and incentive-payout files are fixed and the "
        "run can never change again (a correction is a new version)."
    )

    def act(self, run, expected):
        run = services.export(run_id=run.pk, actor=self.request.user, expected=expected)
        return run, f"{run} exported: download its two files below."


class SettlementRerunView(RunActionView):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Re-run {run}"
    button = "Re-run as a new version"
    question = (
        "Compute the program's month again as a new version; its differences from this one are "
        "shown line by line. This version stays as it is."
    )

    def act(self, run, expected):
        new = services.start_run(
            program=run.program, period_start=run.period_start, actor=self.request.user
        )
        return new, f"{new} started."


class SettlementResumeView(RunActionView):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Resume {run}"
    button = "Resume"
    question = (
        "Send the chunks still pending to the workers again (after a worker stopped). Chunks "
        "already computed are not computed twice."
    )

    def act(self, run, expected):
        pending = services.resume_run(run_id=run.pk, actor=self.request.user)
        return run, f"{pending} pending chunk(s) sent to the workers again."


class SettlementDownloadView(UtilityViewMixin, View):
    """One of an exported run's two files; the same run always gives the same rows."""

    required_capability = Cap.MANAGE_SETTLEMENT

    def get(self, request, *args, pk: int, kind: str, **kwargs):
        run = get_object_or_404(SettlementRun.objects.select_related("program"), pk=pk)
        if kind not in selectors.EXPORT_KINDS or run.status != SettlementRun.Status.EXPORTED:
            raise Http404("This run has no such file (files exist once a run is exported).")
        services.record_download(run=run, kind=kind, actor=request.user)
        header = selectors.BILL_CREDIT_HEADER if kind == "bill-credits" else selectors.PAYOUT_HEADER
        response = csv_download(
            filename=selectors.export_filename(run=run, kind=kind),
            rows=selectors.export_rows(run=run, kind=kind),
            header=header,
        )
        response["Cache-Control"] = "private, no-store"
        return response


class DisputeOpenView(UtilityViewMixin, View):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = "billing/dispute_form.html"

    def get(self, request, *args, pk: int, **kwargs):
        line = get_object_or_404(SettlementLine.objects.select_related("run__program"), pk=pk)
        return render(request, self.template_name, {"line": line, "form": DisputeForm()})

    def post(self, request, *args, pk: int, **kwargs):
        line = get_object_or_404(SettlementLine.objects.select_related("run__program"), pk=pk)
        form = DisputeForm(request.POST)
        if form.is_valid():
            try:
                services.open_dispute(
                    line_id=line.pk, note=form.cleaned_data["note"], actor=request.user
                )
            except SettlementError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Dispute opened on {line.account_number}.")
                return redirect(utility_url(request, "settlement_detail", line.run_id))
        return render(request, self.template_name, {"line": line, "form": form})


class DisputeResolveView(UtilityViewMixin, View):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = "billing/dispute_form.html"

    def _dispute(self, pk: int) -> SettlementDispute:
        return get_object_or_404(
            SettlementDispute.objects.select_related("line__run__program"), pk=pk
        )

    def get(self, request, *args, pk: int, **kwargs):
        dispute = self._dispute(pk)
        return render(
            request, self.template_name,
            {"line": dispute.line, "dispute": dispute, "form": DisputeForm()},
        )  # fmt: skip

    def post(self, request, *args, pk: int, **kwargs):
        dispute = self._dispute(pk)
        form = DisputeForm(request.POST)
        if form.is_valid():
            try:
                services.resolve_dispute(
                    dispute_id=dispute.pk, note=form.cleaned_data["note"], actor=request.user
                )
            except SettlementError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Dispute #{dispute.pk} resolved.")
                return redirect(utility_url(request, "settlement_detail", dispute.line.run_id))
        return render(
            request, self.template_name, {"line": dispute.line, "dispute": dispute, "form": form}
        )
