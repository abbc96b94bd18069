"""Disputes: the list, opening one about an incentive, one dispute, resolving it."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.generic import DetailView, ListView

from enrollment.incentives import selectors, services
from enrollment.incentives.filters import DisputeFilter
from enrollment.incentives.forms import DisputeForm, ResolveDisputeForm
from enrollment.incentives.models import Dispute
from enrollment.incentives.views.base import TEMPLATES, ActionPage, audit_history, utility_url
from enrollment.incentives.views.incentives import IncentiveActionMixin
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin


class DisputeListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    filterset_class = DisputeFilter
    template_name = TEMPLATES + "dispute_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.disputes()


class DisputeCreateView(IncentiveActionMixin, ActionPage):
    """Record a customer's dispute of an incentive's amount, with evidence."""

    required_capability = Cap.APPROVE_INCENTIVES
    title = "Record a dispute of incentive #{obj.pk}"
    button = "Record the dispute"
    form_class = DisputeForm

    def describe(self, incentive) -> str:
        return (
            f"{incentive.service_account.customer_name} disputes "
            f"{services.dollars(incentive.amount)} ({incentive.offer.name})."
        )

    def post(self, request, *args, pk: int, **kwargs):
        incentive = self.get_object(pk)
        form = DisputeForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                dispute = services.open_dispute(
                    incentive_id=incentive.pk,
                    description=form.cleaned_data["description"],
                    claimed_amount=form.cleaned_data["claimed_amount"],
                    evidence=form.cleaned_data["evidence"],
                    actor=request.user,
                )
            except services.DisputeAlreadyOpen as error:
                messages.warning(request, error.message)
                return redirect(utility_url(request, "dispute_detail", error.dispute.pk))
            except services.IncentiveError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Dispute #{dispute.pk} recorded.")
                return redirect(utility_url(request, "dispute_detail", dispute.pk))
        return self.render_page(incentive, form)


class DisputeDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "dispute_detail.html"
    context_object_name = "dispute"

    def get_queryset(self):
        return selectors.dispute_with_details()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_resolve=self.request.access.can(Cap.APPROVE_INCENTIVES)
            and self.object.status == Dispute.Status.OPEN,
            entries=selectors.ledger_for_incentive(incentive=self.object.incentive),
            history=audit_history(self.request, self.object),
            **kwargs,
        )


class DisputeResolveView(ActionPage):
    required_capability = Cap.APPROVE_INCENTIVES
    title = "Resolve dispute #{obj.pk}"
    button = "Resolve"
    form_class = ResolveDisputeForm

    def get_object(self, pk: int) -> Dispute:
        return get_object_or_404(selectors.disputes(), pk=pk)

    def back_url(self, dispute) -> str:
        return utility_url(self.request, "dispute_detail", dispute.pk)

    def describe(self, dispute) -> str:
        incentive = dispute.incentive
        claimed = (
            f" They believe {services.dollars(dispute.claimed_amount)} is owed."
            if dispute.claimed_amount is not None
            else ""
        )
        return (
            f"{incentive.service_account.customer_name} disputes incentive #{incentive.pk}, "
            f"{services.dollars(incentive.amount)} ({incentive.offer.name}): "
            f"“{dispute.description}”{claimed}"
        )

    def act(self, dispute, form) -> str:
        data = form.cleaned_data
        resolved = services.resolve_dispute(
            dispute_id=dispute.pk,
            upheld=data["outcome"] == ResolveDisputeForm.UPHELD,
            note=data["note"],
            corrected_amount=data.get("corrected_amount"),
            actor=self.request.user,
        )
        return f"Dispute #{resolved.pk} {resolved.get_status_display().lower()}."
