"""The approval queue: the list, an incentive with its ledger and decisions, approving and
rejecting, applications for a customer, and the uploaded documents."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View
from django.views.generic import DetailView, ListView

from enrollment.incentives import selectors, services
from enrollment.incentives.filters import IncentiveFilter
from enrollment.incentives.forms import ApplicationForm, ChooseOfferForm, RejectForm
from enrollment.incentives.models import Incentive, IncentiveDocument, IncentiveOffer
from enrollment.incentives.views.base import TEMPLATES, ActionPage, audit_history, utility_url
from portal.downloads import document_download
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin


class IncentiveListView(UtilityViewMixin, FilteredListMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    filterset_class = IncentiveFilter
    template_name = TEMPLATES + "incentive_list.html"
    paginate_by = 50

    def base_queryset(self):
        return selectors.incentives()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_submit=self.request.access.can(Cap.MANAGE_CUSTOMERS), **kwargs
        )


class IncentiveDetailView(UtilityViewMixin, DetailView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "incentive_detail.html"
    context_object_name = "incentive"

    def get_queryset(self):
        return selectors.incentive_with_details()

    def get_context_data(self, **kwargs):
        incentive = self.object
        access = self.request.access
        return super().get_context_data(
            entries=selectors.ledger_for_incentive(incentive=incentive),
            payout_items=selectors.payout_items_for_incentive(incentive=incentive),
            disputes=selectors.disputes_of_incentive(incentive=incentive),
            can_decide=access.can(Cap.APPROVE_INCENTIVES)
            and incentive.status in Incentive.UNDECIDED,
            can_approve=access.can(Cap.APPROVE_INCENTIVES)
            and incentive.status == Incentive.Status.SUBMITTED,
            can_dispute=access.can(Cap.APPROVE_INCENTIVES)
            and incentive.status == Incentive.Status.APPROVED,
            can_view_customers=access.can(Cap.VIEW_CUSTOMERS),
            history=audit_history(self.request, incentive),
            **kwargs,
        )


class IncentiveActionMixin:
    def get_object(self, pk: int) -> Incentive:
        return get_object_or_404(selectors.incentives(), pk=pk)

    def back_url(self, incentive) -> str:
        return utility_url(self.request, "incentive_detail", incentive.pk)


class IncentiveApproveView(IncentiveActionMixin, ActionPage):
    required_capability = Cap.APPROVE_INCENTIVES
    title = "Approve incentive #{obj.pk}"
    button = "Approve and reserve"

    def describe(self, incentive) -> str:
        budget = selectors.budget(program=incentive.program)
        return (
            f"Approve {services.dollars(incentive.amount)} ({incentive.offer.name}) for "
            f"{incentive.service_account.customer_name}? It reserves that much of "
            f"{incentive.program}'s budget, which has {services.dollars(budget.remaining)} left."
        )

    def act(self, incentive, form) -> str:
        decided = services.approve_incentive(incentive_id=incentive.pk, actor=self.request.user)
        if decided.status == Incentive.Status.WAITLISTED:
            messages.warning(
                self.request,
                f"Incentive #{decided.pk} was waitlisted, not approved: the budget left cannot "
                f"cover {services.dollars(decided.amount)}. It is approved in turn when budget "
                "frees.",
            )
            return ""
        return f"Incentive #{decided.pk} approved; {services.dollars(decided.amount)} reserved."


class IncentiveRejectView(IncentiveActionMixin, ActionPage):
    required_capability = Cap.APPROVE_INCENTIVES
    title = "Reject incentive #{obj.pk}"
    button = "Reject"
    danger = True
    form_class = RejectForm

    def describe(self, incentive) -> str:
        return (
            f"Reject {services.dollars(incentive.amount)} ({incentive.offer.name}) for "
            f"{incentive.service_account.customer_name}?"
        )

    def act(self, incentive, form) -> str:
        services.reject_incentive(
            incentive_id=incentive.pk, reason=form.cleaned_data["reason"], actor=self.request.user
        )
        return f"Incentive #{incentive.pk} rejected."


class IncentiveCreateView(UtilityViewMixin, View):
    """Staff submit an application for a customer: first the incentive, then the figures
    that incentive's type needs."""

    # Customer-service reps take applications on the customer's behalf.
    required_capability = Cap.MANAGE_CUSTOMERS
    template_name = TEMPLATES + "incentive_form.html"

    def get(self, request, *args, **kwargs):
        offer = self.chosen_offer()
        if offer is None:
            return self.render_page(ChooseOfferForm(request.GET or None), None)
        return self.render_page(None, ApplicationForm(offer=offer))

    def post(self, request, *args, **kwargs):
        offer = self.chosen_offer()
        if offer is None:
            return redirect(utility_url(request, "incentive_create"))
        form = ApplicationForm(request.POST, request.FILES, offer=offer)
        if form.is_valid():
            try:
                incentive = self.submit(offer, form)
            except services.IncentiveError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    f"Incentive #{incentive.pk}: {services.dollars(incentive.amount)}, "
                    f"{incentive.get_status_display().lower()}.",
                )
                return redirect(utility_url(request, "incentive_detail", incentive.pk))
        return self.render_page(None, form)

    def chosen_offer(self) -> IncentiveOffer | None:
        offer_id = self.request.GET.get("offer", "")
        if not offer_id.isdigit():
            return None
        return get_object_or_404(selectors.offers(active_only=True), pk=int(offer_id))

    def submit(self, offer: IncentiveOffer, form: ApplicationForm) -> Incentive:
        data, user, enrollment = form.cleaned_data, self.request.user, form.enrollment
        if data.get("payout_method"):
            services.set_payout_preference(
                service_account=enrollment.service_account,
                method=data["payout_method"],
                ach_reference=data.get("ach_reference", ""),
                egift_email=data.get("egift_email", ""),
                actor=user,
            )
        program, kind = offer.program, offer.kind
        if kind == IncentiveOffer.Kind.CHARGER_REBATE:
            return services.submit_charger_rebate(
                offer=offer,
                enrollment=enrollment,
                invoice_total=data["invoice_total"],
                invoice=data["invoice"],
                actor=user,
            )
        if kind == IncentiveOffer.Kind.ENROLLMENT_BONUS:
            return services.award_enrollment_bonus(
                program=program, enrollment=enrollment, actor=user
            )
        if kind == IncentiveOffer.Kind.MONTHLY_CREDIT:
            return services.award_monthly_credit(
                program=program,
                enrollment=enrollment,
                month=data["month"],
                opt_out_count=data["opt_out_count"],
                actor=user,
            )
        if kind == IncentiveOffer.Kind.EVENT_PERFORMANCE:
            return services.award_event_performance(
                program=program,
                enrollment=enrollment,
                event_ref=data["event_ref"],
                event_date=data["event_date"],
                measured_kwh=data["measured_kwh"],
                actor=user,
            )
        return services.award_capacity(
            program=program,
            enrollment=enrollment,
            season=data["season"],
            measured_kw=data["measured_kw"],
            actor=user,
        )

    def render_page(self, choose_form, form):
        return render(
            self.request,
            self.template_name,
            {"choose_form": choose_form, "form": form, "offer": getattr(form, "offer", None)},
        )


class IncentiveDocumentView(UtilityViewMixin, View):
    """An uploaded invoice or evidence file, as an attachment with the type its content was
    checked to be. There is no other way to the file: MEDIA_ROOT is not served."""

    required_capability = Cap.VIEW_INCENTIVES

    def get(self, request, *args, pk: int, **kwargs):
        document = get_object_or_404(IncentiveDocument.objects.all(), pk=pk)
        return document_download(
            file=document.file, filename=document.download_name, content_type=document.content_type
        )
