"""The ledger, on a page and as CSV."""

from __future__ import annotations

from django.utils import timezone
from django.views import View
from django.views.generic import ListView

from enrollment.incentives import selectors
from enrollment.incentives.filters import LedgerFilter
from enrollment.incentives.views.base import TEMPLATES
from portal.downloads import csv_download
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin


class LedgerView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    filterset_class = LedgerFilter
    template_name = TEMPLATES + "ledger.html"
    paginate_by = 100

    def base_queryset(self):
        return selectors.ledger_entries()


class LedgerExportView(UtilityViewMixin, FilteredListMixin, View):
    """The filtered ledger as CSV, streamed."""

    required_capability = Cap.VIEW_INCENTIVES
    filterset_class = LedgerFilter
    HEADER = [
        "entry", "time_utc", "program", "kind", "amount", "incentive", "incentive_type",
        "account_number", "customer", "reverses", "settles", "payout_batch", "memo", "by",
    ]  # fmt: skip

    def base_queryset(self):
        return selectors.ledger_entries().order_by("created_at", "id")

    def get(self, request, *args, **kwargs):
        entries = self.filtered_queryset()
        if error := self.filter_error_response():
            return error
        rows = (
            [
                e.pk,
                e.created_at.isoformat(),
                e.program.name,
                e.kind,
                f"{e.amount:.2f}",
                e.incentive_id,
                e.incentive.offer.get_kind_display(),
                e.incentive.service_account.account_number,
                e.incentive.service_account.customer_name,
                e.reverses_id or "",
                e.settles_id or "",
                e.payout_batch_id or "",
                e.memo,
                e.actor_label,
            ]
            for e in entries.iterator(chunk_size=2000)
        )
        name = f"incentive-ledger-{request.utility.slug}-{timezone.localdate():%Y%m%d}.csv"
        return csv_download(filename=name, header=self.HEADER, rows=rows)
