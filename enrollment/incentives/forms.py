"""Forms of the incentive pages. Choices come from the current utility's
scoped managers, so an id from another utility is a form error, never a lookup elsewhere."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from enrollment.incentives import selectors, services
from enrollment.incentives.choices import OFF_BILL_METHODS, PayoutMethod
from enrollment.incentives.models import Dispute, IncentiveOffer
from enrollment.models import Enrollment
from portal.models import Utility

MONEY_FIELD = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.00")}

# --- Fields ---------------------------------------------------------------------------------


class DocumentField(forms.FileField):
    """A PDF, PNG or JPEG of at most 10 MB, checked by its content (the same check the
    services make)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "PDF, PNG or JPEG, at most 10 MB.")
        kwargs.setdefault(
            "widget", forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"})
        )
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        upload = super().clean(data, initial)
        if upload:
            try:
                services.check_document(upload)
            except services.InvalidDocument as error:
                raise forms.ValidationError(error.message, code=error.code) from None
        return upload


# --- Offers ---------------------------------------------------------------------------------


class OfferForm(forms.ModelForm):
    # Declared here: the generated field would query programs before any scope is active.
    program = forms.ModelChoiceField(queryset=None)

    class Meta:
        model = IncentiveOffer
        fields = [
            "program",
            "kind",
            "name",
            "reason_code",
            "payout_channel",
            "amount",
            "income_qualified_amount",
            "forfeit_after_opt_outs",
            "rate_per_kwh",
            "rate_per_kw",
            "season_cap",
            "requires_review",
            "active",
        ]
        labels = {"kind": "Type", "amount": "Amount ($)"}

    def __init__(self, *args, utility: Utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.utility = utility
        # The terms before this form changes the instance, for the audit trail.
        self.terms_before = services.offer_terms(self.instance) if self.instance.pk else None
        self.fields["program"].queryset = selectors.programs()
        for name in ("amount", "income_qualified_amount", "season_cap"):
            self.fields[name].min_value = Decimal("0.00")
        self.fields["kind"].help_text = (
            "Rebate: amount (+ income-qualified amount). Bonus: amount. Monthly credit: "
            "amount (+ opt-outs that forfeit it). Performance: $/kWh (+ season cap). "
            "Capacity: $/kW (+ season cap)."
        )

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if not kind:
            return data
        for name in IncentiveOffer.REQUIRED_BY_KIND[kind]:
            if data.get(name) is None:
                self.add_error(name, "Required for this type of incentive.")
        used = set(IncentiveOffer.FIELDS_BY_KIND[kind])
        for name in {f for fields in IncentiveOffer.FIELDS_BY_KIND.values() for f in fields}:
            if name not in used and data.get(name) is not None:
                self.add_error(name, "Leave empty: this type of incentive does not use it.")
        program = data.get("program")
        if program and data.get("active"):
            others = IncentiveOffer.objects.filter(program=program, kind=kind, active=True)
            if self.instance.pk:
                others = others.exclude(pk=self.instance.pk)
            if others.exists():
                raise forms.ValidationError(
                    f"{program} already has an active {IncentiveOffer.Kind(kind).label.lower()}"
                    " offer; deactivate it first.",
                    code="duplicate_kind",
                )
        return data


# --- Applications ---------------------------------------------------------------------------


class ChooseOfferForm(forms.Form):
    offer = forms.ModelChoiceField(queryset=None, label="Incentive")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = selectors.offers(active_only=True)


class ApplicationForm(forms.Form):
    """An application staff submit for a customer: who (account, and the vehicle when the
    customer has several enrollments in the program) and the figures the offer's type needs."""

    account_number = forms.CharField(max_length=32)
    vin = forms.CharField(
        max_length=17,
        required=False,
        label="Vehicle VIN",
        help_text="Needed only when the customer has several vehicles in the program.",
    )
    invoice = DocumentField(label="Charger invoice", required=False)
    invoice_total = forms.DecimalField(label="Invoice total ($)", required=False, **MONEY_FIELD)
    month = forms.DateField(
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        help_text="Year and month, e.g. 2026-07.",
    )
    opt_out_count = forms.IntegerField(
        required=False, min_value=0, max_value=1000, label="Opt-outs in that month"
    )
    event_ref = forms.CharField(max_length=64, required=False, label="Event reference")
    event_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Event date"
    )
    measured_kwh = forms.DecimalField(
        required=False, max_digits=12, decimal_places=3, label="Measured kWh"
    )
    season = forms.CharField(max_length=40, required=False, help_text="e.g. Summer 2026")
    measured_kw = forms.DecimalField(
        required=False, max_digits=10, decimal_places=3, label="Measured average kW"
    )
    payout_method = forms.ChoiceField(
        required=False,
        choices=[("", "Keep what is on file (a check if nothing is)")]
        + [(m.value, m.label) for m in OFF_BILL_METHODS],
        label="How the customer wants to be paid",
    )
    ach_reference = forms.CharField(
        max_length=64,
        required=False,
        label="ACH: payment processor's reference id",
        help_text="The processor's id for the customer's bank account; never the account "
        "or routing number.",
    )
    egift_email = forms.EmailField(required=False, label="E-gift card: email address")

    FIELDS_BY_KIND = {
        IncentiveOffer.Kind.CHARGER_REBATE: ["invoice", "invoice_total"],
        IncentiveOffer.Kind.ENROLLMENT_BONUS: [],
        IncentiveOffer.Kind.MONTHLY_CREDIT: ["month", "opt_out_count"],
        IncentiveOffer.Kind.EVENT_PERFORMANCE: ["event_ref", "event_date", "measured_kwh"],
        IncentiveOffer.Kind.CAPACITY_PAYMENT: ["season", "measured_kw"],
    }
    PAYOUT_FIELDS = ["payout_method", "ach_reference", "egift_email"]

    def __init__(self, *args, offer: IncentiveOffer, **kwargs):
        super().__init__(*args, **kwargs)
        self.offer = offer
        self.enrollment: Enrollment | None = None
        wanted = {"account_number", "vin", *self.FIELDS_BY_KIND[offer.kind]}
        if offer.payout_channel == IncentiveOffer.Channel.OFF_BILL:
            wanted |= set(self.PAYOUT_FIELDS)
        for name in list(self.fields):
            if name not in wanted:
                del self.fields[name]
        for name in self.FIELDS_BY_KIND[offer.kind]:
            self.fields[name].required = True

    def clean(self):
        data = super().clean()
        if data.get("account_number"):
            self.enrollment = self._enrollment(data["account_number"], data.get("vin", ""))
        method = data.get("payout_method")
        if method == PayoutMethod.ACH:
            try:
                data["ach_reference"] = services.check_ach_reference(data.get("ach_reference", ""))
            except services.InvalidInput as error:
                self.add_error("ach_reference", error.message)
        if method == PayoutMethod.EGIFT and not data.get("egift_email"):
            self.add_error("egift_email", "Enter the email address the e-gift card goes to.")
        return data

    def _enrollment(self, account_number: str, vin: str) -> Enrollment | None:
        rows = list(
            selectors.enrollments_of_account(
                program=self.offer.program, account_number=account_number, vin=vin
            )[:5]
        )
        if not rows:
            field = "vin" if vin else "account_number"
            self.add_error(
                field,
                f"No enrollment in {self.offer.program} for this account"
                + (" and vehicle." if vin else "."),
            )
            return None
        participants = [e for e in rows if e.activated_at is not None]
        if len(participants) > 1 and not vin:
            vins = ", ".join(e.vehicle.vin for e in participants)
            self.add_error("vin", f"This customer has several vehicles in the program ({vins}).")
            return None
        return (participants or rows)[0]


class RejectForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        help_text="The customer is told this reason.",
    )


class DisputeForm(forms.Form):
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=4000,
        label="What the customer disputes",
    )
    claimed_amount = forms.DecimalField(
        required=False, label="Amount the customer believes is owed ($)", **MONEY_FIELD
    )
    evidence = DocumentField(required=False)


class ResolveDisputeForm(forms.Form):
    UPHELD, DENIED = Dispute.Status.UPHELD, Dispute.Status.DENIED
    outcome = forms.ChoiceField(
        choices=[(UPHELD, "Uphold: correct the amount"), (DENIED, "Deny: the amount stands")],
        widget=forms.RadioSelect,
    )
    corrected_amount = forms.DecimalField(
        required=False,
        label="Corrected amount ($)",
        help_text="What the customer is owed in all. Reversing and new ledger entries make "
        "the ledger say this.",
        **MONEY_FIELD,
    )
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        label="Resolution note",
        help_text="The customer is told this.",
    )

    def clean(self):
        data = super().clean()
        if data.get("outcome") == self.UPHELD and data.get("corrected_amount") is None:
            self.add_error("corrected_amount", "Enter the corrected amount to uphold.")
        return data


class PayoutBatchForm(forms.Form):
    program = forms.ModelChoiceField(queryset=None)
    channel = forms.ChoiceField(choices=IncentiveOffer.Channel.choices, label="Paid as")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = selectors.programs()
