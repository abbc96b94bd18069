"""Incentive pages under /u/<utility_slug>/incentives/: the approval queue, an incentive and
its decisions, applications for a customer, uploaded documents, the budget dashboard, the
ledger, payout batches and disputes, and the offers themselves.

Objects are looked up through the scoped default managers, so another utility's id is a 404
without any check here. Refused actions (someone decided first, the budget ran out) come back
as a message on the page, never as an error page.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View
from django.views.generic import CreateView, DetailView, ListView, UpdateView

from devices.charts import Tick, nice_ticks
from enrollment import incentives as services
from enrollment import incentives_selectors as selectors
from enrollment.incentives_forms import (
    ApplicationForm,
    ChooseOfferForm,
    DisputeFilter,
    DisputeForm,
    IncentiveFilter,
    LedgerFilter,
    OfferForm,
    PayoutBatchForm,
    RejectForm,
    ResolveDisputeForm,
)
from enrollment.models import (
    Dispute,
    Incentive,
    IncentiveDocument,
    IncentiveOffer,
    PayoutBatch,
    PayoutMethod,
)
from portal.downloads import csv_download, document_download
from portal.models import AuditEvent
from portal.roles import Cap
from portal.views import FilteredListMixin, UtilityViewMixin

TEMPLATES = "enrollment/incentives/"


def _url(request, name: str, *args) -> str:
    return reverse(f"utility:{name}", args=[request.utility.slug, *args])


def _history(request, obj):
    """The object's audit rows, for those who may read the audit trail (else None)."""
    if not request.access.can(Cap.VIEW_AUDIT):
        return None
    return AuditEvent.objects.filter(
        object_type=obj._meta.label_lower, object_id=str(obj.pk)
    ).order_by("created_at", "id")[:50]


class ActionPage(UtilityViewMixin, View):
    """A decision about one object: GET shows it with the form (or a confirmation), POST
    makes it. A refused decision is shown as a message, and the page it came from again."""

    template_name = TEMPLATES + "action.html"
    title = ""
    button = ""
    danger = False
    form_class = None

    def get_object(self, pk: int):
        raise NotImplementedError

    def describe(self, obj) -> str:
        raise NotImplementedError

    def back_url(self, obj) -> str:
        raise NotImplementedError

    def act(self, obj, form):
        """Do it; return the success message. Raise IncentiveError to refuse."""
        raise NotImplementedError

    def get(self, request, *args, pk: int, **kwargs):
        obj = self.get_object(pk)
        return self.render_page(obj, self.form_class() if self.form_class else None)

    def post(self, request, *args, pk: int, **kwargs):
        obj = self.get_object(pk)
        form = self.form_class(request.POST, request.FILES) if self.form_class else None
        if form is not None and not form.is_valid():
            return self.render_page(obj, form)
        try:
            message = self.act(obj, form)
        except services.AlreadyDecided as error:
            messages.warning(request, error.message)
        except services.IncentiveError as error:
            if form is None:
                messages.error(request, error.message)
            else:
                form.add_error(None, error.message)
                return self.render_page(obj, form)
        else:
            if message:
                messages.success(request, message)
        return redirect(self.back_url(obj))

    def render_page(self, obj, form):
        context = {
            "object": obj,
            "title": self.title.format(obj=obj),
            "question": self.describe(obj),
            "form": form,
            "button": self.button,
            "danger": self.danger,
            "cancel_url": self.back_url(obj),
        }
        return render(self.request, self.template_name, context)


# --- Approval queue -------------------------------------------------------------------------


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
            history=_history(self.request, incentive),
            **kwargs,
        )


class IncentiveActionMixin:
    def get_object(self, pk: int) -> Incentive:
        return get_object_or_404(selectors.incentives(), pk=pk)

    def back_url(self, incentive) -> str:
        return _url(self.request, "incentive_detail", incentive.pk)


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
            return redirect(_url(request, "incentive_create"))
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
                return redirect(_url(request, "incentive_detail", incentive.pk))
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


# --- Budget ---------------------------------------------------------------------------------


# Budget chart geometry, in SVG units: a label column, the plot, room for the value labels.
CHART_WIDTH, CHART_LEFT, CHART_RIGHT = 640, 96, 544
CHART_TOP, BAR_ROW, BAR_HEIGHT = 8, 36, 24


@dataclass(frozen=True)
class ChartBar:
    label: str
    value: Decimal
    y: float
    x: float
    width: float
    color: str
    text: str
    text_x: float


@dataclass(frozen=True)
class BudgetChart:
    """Horizontal bars for one program's budget, reserved, paid and remaining dollars."""

    title: str
    description: str
    bars: list[ChartBar]
    ticks: list[Tick]
    zero_x: float
    width: int = CHART_WIDTH
    left: int = CHART_LEFT
    right: int = CHART_RIGHT
    bar_height: int = BAR_HEIGHT
    plot_top: int = CHART_TOP
    plot_bottom: int = CHART_TOP + 4 * BAR_ROW
    tick_label_y: int = CHART_TOP + 4 * BAR_ROW + 16
    height: int = CHART_TOP + 4 * BAR_ROW + 26


def _tick_label(value: float) -> str:
    amount = Decimal(str(value))
    text = services.dollars(amount)
    return text[:-3] if amount == amount.to_integral_value() else text


def budget_chart(budget: selectors.Budget) -> BudgetChart:
    """Geometry of one program's budget chart. A negative remaining (the budget was lowered
    below what is committed) is drawn left of zero."""
    values = [
        ("Budget", budget.total, "#5b6676"),
        ("Reserved", budget.reserved, "#9a6400"),
        ("Paid", budget.paid, "#1f7a3a"),
        ("Remaining", budget.remaining, "#0b5cad"),
    ]
    amounts = [float(v) for _, v, _ in values]
    ticks = nice_ticks(min(0.0, *amounts), max(1.0, *amounts))
    low, high = ticks[0], ticks[-1]

    def x_of(value: float) -> float:
        return round(CHART_LEFT + (value - low) / (high - low) * (CHART_RIGHT - CHART_LEFT), 1)

    zero_x = x_of(0.0)
    bars = []
    for row, (label, value, color) in enumerate(values):
        end = x_of(float(value))
        bars.append(
            ChartBar(
                label=label,
                value=value,
                y=CHART_TOP + row * BAR_ROW + (BAR_ROW - BAR_HEIGHT) / 2,
                x=min(zero_x, end),
                width=max(abs(end - zero_x), 1.0),  # a zero still shows as a hairline
                color=color,
                text=services.dollars(value),
                text_x=max(zero_x, end) + 6,
            )
        )
    return BudgetChart(
        title=f"Incentive budget of {budget.program.name}",
        description=(
            f"Budget {services.dollars(budget.total)}: {services.dollars(budget.reserved)} "
            f"reserved by approvals, {services.dollars(budget.paid)} paid, "
            f"{services.dollars(budget.remaining)} remaining."
        ),
        bars=bars,
        ticks=[Tick(position=x_of(v), label=_tick_label(v)) for v in ticks],
        zero_x=zero_x,
    )


class BudgetDashboardView(UtilityViewMixin, View):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "budget_dashboard.html"

    def get(self, request, *args, **kwargs):
        budgets = selectors.budgets(programs=list(selectors.programs()))
        rows = [{"budget": b, "chart": budget_chart(b)} for b in budgets]
        return render(request, self.template_name, {"rows": rows})


# --- Ledger ---------------------------------------------------------------------------------


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


# --- Payout batches -------------------------------------------------------------------------


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


class PayoutBatchCreateView(UtilityViewMixin, View):
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
                return redirect(_url(request, "payout_batch_detail", batch.pk))
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
            history=_history(self.request, batch),
            **kwargs,
        )


class PayoutBatchExportView(UtilityViewMixin, View):
    """One method's payment file of a batch (POST: the first export moves the batch to
    "exported", and every export is audited). The same batch always gives the same bytes."""

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


class PayoutBatchMarkPaidView(ActionPage):
    required_capability = Cap.MANAGE_SETTLEMENT
    title = "Mark payout batch #{obj.pk} paid"
    button = "Mark paid"

    def get_object(self, pk: int) -> PayoutBatch:
        return get_object_or_404(selectors.payout_batches(), pk=pk)

    def back_url(self, batch) -> str:
        return _url(self.request, "payout_batch_detail", batch.pk)

    def describe(self, batch) -> str:
        return (
            f"Confirm that the {batch.item_count} payment(s) of batch #{batch.pk} "
            f"({batch.program}), {services.dollars(batch.total_amount)} in all, were paid. Each becomes a payout "
            "entry in the ledger; this cannot be undone."
        )

    def act(self, batch, form) -> str:
        services.mark_batch_paid(batch_id=batch.pk, actor=self.request.user)
        return f"Payout batch #{batch.pk} marked paid."


# --- Disputes -------------------------------------------------------------------------------


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
                return redirect(_url(request, "dispute_detail", error.dispute.pk))
            except services.IncentiveError as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Dispute #{dispute.pk} recorded.")
                return redirect(_url(request, "dispute_detail", dispute.pk))
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
            history=_history(self.request, self.object),
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
        return _url(self.request, "dispute_detail", dispute.pk)

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


# --- Offers ---------------------------------------------------------------------------------


class OfferListView(UtilityViewMixin, ListView):
    required_capability = Cap.VIEW_INCENTIVES
    template_name = TEMPLATES + "offer_list.html"
    context_object_name = "offers"
    paginate_by = 100

    def get_queryset(self):
        return selectors.offers()

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            can_manage=self.request.access.can(Cap.MANAGE_PROGRAMS), **kwargs
        )


class OfferFormMixin(UtilityViewMixin):
    required_capability = Cap.MANAGE_PROGRAMS
    form_class = OfferForm
    template_name = TEMPLATES + "offer_form.html"

    def get_queryset(self):
        return selectors.offers()

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "utility": self.request.utility}

    def form_valid(self, form):
        try:
            self.object = services.save_offer(
                offer=form.save(commit=False), before=form.terms_before, actor=self.request.user
            )
        except IntegrityError:
            # Two people saving at once slipped past the form's checks; the constraints held.
            form.add_error(
                None,
                "The program already has an offer with this name, or an active offer of this type.",
            )
            return self.form_invalid(form)
        messages.success(self.request, f"Saved “{self.object.name}”.")
        return redirect(_url(self.request, "incentive_offer_list"))


class OfferCreateView(OfferFormMixin, CreateView):
    pass


class OfferEditView(OfferFormMixin, UpdateView):
    pass
