"""Payout batches: the list, a new batch, one batch, its payment files, marking it paid."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from enrollment.incentives import selectors, services
from enrollment.incentives.choices import PayoutMethod
from enrollment.incentives.forms import PayoutBatchForm
from enrollment.incentives.models import PayoutBatch
from enrollment.incentives.views.base import TEMPLATES, ActionPage, audit_history, utility_url
from portal.identity.reauth import RecentAuthRequiredMixin
from portal.roles import Cap
from portal.views import UtilityViewMixin


class PayoutBatchListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "payout_batch_list.html"
    context_object_name = "batches"
    paginate_by = 50

    def get_queryset(self):
        return selectors.payout_batches()

    def get_context_data(self, **kwargs):
        can_manage = self.request.access.can(Cap.MANAGE_SETTLEMENT)
        return super().get_context_data(
            can_manage=can_manage,
            payable=selectors.payable_summary() if can_manage else [],
            **kwargs,
        )


class PayoutBatchCreateView(RecentAuthRequiredMixin, UtilityViewMixin, View):
    required_capability = Cap.MANAGE_SETTLEMENT
    template_name = TEMPLATES + "payout_batch_form.html"

    def get(self, request, *args, **kwargs):
        return self.render_page(PayoutBatchForm(initial=request.GET.dict()))

    def post(self, request, *args, **kwargs):
        form = PayoutBatchForm(request.POST)
        if form.is_valid():
            try:
                batch = services.create_payout_batch(
                    program_id=form.cleaned_data["program"].pk,
                    channel=form.cleaned_data["channel"],
                    actor=request.user,
                )
            except services.IncentiveError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    f"Payout batch #{batch.pk}: {batch.item_count} payment(s), "
                    f"{services.dollars(batch.total_amount)}. Export its file(s) next.",
                )
                return redirect(utility_url(request, "payout_batch_detail", batch.pk))
        return self.render_page(form)

    def render_page(self, form):
        return render(
            self.request,
            self.template_name,
            {"form": form, "payable": selectors.payable_summary()},
        )


class PayoutBatchDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "payout_batch_detail.html"
    context_object_name = "batch"
    items_per_page = 200

    def get_queryset(self):
        return selectors.batch_with_details()

    def get_context_data(self, **kwargs):
        batch = self.object
        page = Paginator(selectors.batch_items(batch=batch), self.items_per_page).get_page(
            self.request.GET.get("page")
        )
        methods = selectors.batch_methods(batch=batch)
        labels = dict(PayoutMethod.choices)
        for row in methods:
            row["label"] = labels[row["method"]]
        return super().get_context_data(
            items=page,
            page_obj=page,
            paginator=page.paginator,
            is_paginated=page.has_other_pages(),
            methods=methods,
            can_manage=self.request.access.can(Cap.MANAGE_SETTLEMENT),
            history=audit_history(self.request, batch),
            **kwargs,
        )


class PayoutBatchExportView(RecentAuthRequiredMixin, UtilityViewMixin, View):
    """One method's payment file of a batch (POST: the first export moves the batch to
    "exported", and every export is audited). The same batch always gives the same bytes.
    Creating, exporting and marking a batch paid each need a recent authentication."""

    required_capability = Cap.MANAGE_SETTLEMENT

    def post(self, request, *args, pk: int, method: str, **kwargs):
        batch = get_object_or_404(PayoutBatch.objects.all(), pk=pk)
        if method not in PayoutMethod.values:
            raise Http404("No such payment method.")
        try:
            name, content = services.export_payout_file(
                batch_id=batch.pk, method=method, actor=request.user
            )
        except services.InvalidInput:
            raise Http404("This batch has no payments of that method.") from None
        response = HttpResponse(content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "private, no-store"
        return response


class PayoutBatchMarkPaidView(RecentAuthRequiredMixin, ActionPage):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Mark payout batch #{obj.pk} paid"
    button = "Mark paid"

    def get_object(self, pk: int) -> PayoutBatch:
        return get_object_or_404(selectors.payout_batches(), pk=pk)

    def back_url(self, batch) -> str:
        return utility_url(self.request, "payout_batch_detail", batch.pk)

    def describe(self, batch) -> str:
        return (
            f"Confirm that the {batch.item_count} payment(s) of batch #{batch.pk} "
            f"({batch.program}), {services.dollars(batch.total_amount)} in all, were paid. Each becomes a payout "
            "entry in the ledger; this cannot be undone."
        )

    def act(self, batch, form) -> str:
        services.mark_batch_paid(batch_id=batch.pk, actor=self.request.user)
        return f"Payout batch #{batch.pk} marked paid."
