"""Forms of the program and enrollment pages. Choices come from the current utility's scope,
so another utility's program, enrollment or agreement id is simply not a valid choice."""

from __future__ import annotations

import re

from django import forms
from django.utils import timezone
from django.utils.dates import MONTHS_3, WEEKDAYS

from devices.models import Vehicle
from devices.vin import InvalidVIN, normalize_vin
from enrollment import services
from enrollment.models import Enrollment, Program, TermsVersion
from portal.customers.models import ServiceAccount
from portal.models import PartnerAgreement, Utility
from portal.models.tenancy import zip_code_validator

_SPLIT = re.compile(r"[\s,;]+")
_MONTH_NUMBERS = {name.lower(): number for number, name in MONTHS_3.items()}


def split_values(text: str) -> list[str]:
    return [v for v in _SPLIT.split(text or "") if v]


class ListTextField(forms.CharField):
    """A list typed as text: values separated by commas, spaces or new lines. Cleans to a
    sorted list without duplicates."""

    widget = forms.Textarea(attrs={"rows": 3})

    def __init__(self, *, item_validator=None, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.item_validator = item_validator

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(value)
        return value

    def clean(self, value):
        items = sorted(set(split_values(super().clean(value))))
        if self.item_validator:
            bad = []
            for item in items:
                try:
                    self.item_validator(item)
                except forms.ValidationError:
                    bad.append(item)
            if bad:
                raise forms.ValidationError(f"Not valid: {', '.join(bad)}.", code="invalid_item")
        return items


class SeasonsField(forms.CharField):
    """Seasons, one per line: ``Summer: 6, 7, 8, 9`` (month numbers or short names). Months
    1–12, each in at most one season."""

    widget = forms.Textarea(attrs={"rows": 3})
    default_help_text = "One per line, e.g. “Summer: 6, 7, 8, 9”. Months not listed are off-season."

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", self.default_help_text)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list):
            return "\n".join(
                f"{s.get('name', '')}: {', '.join(str(m) for m in s.get('months', []))}"
                for s in value
            )
        return value

    def clean(self, value):
        text = super().clean(value)
        seasons, seen, names, errors = [], {}, set(), []
        for number, line in enumerate((text or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, months_text = line.partition(":")
            name = name.strip()
            if not sep or not name:
                errors.append(f"Line {number}: write “Name: months”.")
                continue
            if name.lower() in names:
                errors.append(f"Line {number}: season “{name}” is listed twice.")
            names.add(name.lower())
            months = []
            for token in split_values(months_text):
                month = _month(token)
                if month is None:
                    errors.append(f"Line {number}: “{token}” is not a month (1–12).")
                elif month in seen:
                    errors.append(
                        f"Line {number}: {MONTHS_3[month].title()} is already in “{seen[month]}”."
                    )
                else:
                    seen[month] = name
                    months.append(month)
            if not months and not errors:
                errors.append(f"Line {number}: “{name}” has no months.")
            seasons.append({"name": name, "months": sorted(months)})
        if errors:
            raise forms.ValidationError(errors)
        return seasons


def _month(token: str) -> int | None:
    if token.isdigit():
        month = int(token)
        return month if 1 <= month <= 12 else None
    return _MONTH_NUMBERS.get(token[:3].lower())


class ProgramForm(forms.ModelForm):
    seasons = SeasonsField()
    event_weekdays = forms.TypedMultipleChoiceField(
        choices=sorted(WEEKDAYS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Event days",
    )
    eligible_zip_codes = ListTextField(
        item_validator=zip_code_validator,
        label="Eligible ZIP codes",
        help_text="Empty: the utility's whole service territory.",
    )
    eligible_account_numbers = ListTextField(
        label="Premise list (account numbers)",
        help_text="Only these accounts may enroll; empty: no premise restriction.",
    )
    eligible_rate_classes = forms.MultipleChoiceField(
        choices=ServiceAccount.RateClass.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: any rate class.",
    )
    conflicting_programs = forms.ModelMultipleChoiceField(
        queryset=Program.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Overlapping programs: a vehicle (or premise) may be in only one of them.",
    )
    enrollment_cap = forms.IntegerField(min_value=0, required=False, help_text="Empty: no cap.")
    max_events_per_season = forms.IntegerField(min_value=0, max_value=1000, required=False)
    max_events_per_month = forms.IntegerField(min_value=0, max_value=100, required=False)
    max_hours_per_event = forms.FloatField(min_value=0.25, max_value=24, required=False)
    min_notice_minutes = forms.IntegerField(min_value=0, max_value=7 * 24 * 60, initial=60)
    discharge_soc_floor_pct = forms.FloatField(
        min_value=0, max_value=100, required=False, label="Discharge floor (SoC %)"
    )

    class Meta:
        model = Program
        fields = [
            "name",
            "slug",
            "kind",
            "status",
            "description",
            "seasons",
            "event_weekdays",
            "event_window_start",
            "event_window_end",
            "enrollment_cap",
            "max_events_per_season",
            "max_events_per_month",
            "max_hours_per_event",
            "min_notice_minutes",
            "discharge_soc_floor_pct",
            "eligible_zip_codes",
            "eligible_account_numbers",
            "eligible_rate_classes",
            "require_approved_equipment",
            "require_permission_to_operate",
            "require_smart_meter",
            "one_enrollment_per_premise",
            "income_qualified_tier",
            "medical_need_policy",
        ]
        widgets = {
            "event_window_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "event_window_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "description": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "event_window_start": "Event window from (local time)",
            "event_window_end": "Event window until (local time)",
        }

    def __init__(self, *args, utility: Utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.instance.utility = utility
        others = Program.objects.order_by("name")
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
            self.initial.setdefault(
                "conflicting_programs", list(self.instance.conflicting_programs.all())
            )
        self.fields["conflicting_programs"].queryset = others

    def clean_slug(self):
        slug = self.cleaned_data["slug"]
        taken = Program.objects.filter(slug=slug).exclude(pk=self.instance.pk or None)
        if taken.exists():
            raise forms.ValidationError("Another program of this utility uses this slug.")
        return slug

    def clean_event_weekdays(self):
        return sorted(set(self.cleaned_data["event_weekdays"]))

    def clean(self):
        data = super().clean()
        start, end = data.get("event_window_start"), data.get("event_window_end")
        if bool(start) != bool(end):
            self.add_error("event_window_end", "Give both ends of the event window, or neither.")
        elif start and end and end <= start:
            self.add_error("event_window_end", "The window must end after it starts.")
        per_month, per_season = data.get("max_events_per_month"), data.get("max_events_per_season")
        if per_month is not None and per_season is not None and per_month > per_season:
            self.add_error("max_events_per_month", "More per month than per season.")
        if data.get("kind") == Program.Kind.V1G and data.get("discharge_soc_floor_pct") is not None:
            self.add_error(
                "discharge_soc_floor_pct", "Managed charging (V1G) programs never discharge."
            )
        return data


class TermsVersionForm(forms.ModelForm):
    consent_valid_days = forms.IntegerField(
        min_value=1, max_value=3650, initial=365, help_text="Consent lasts this long."
    )

    class Meta:
        model = TermsVersion
        fields = ["version", "title", "body", "effective_on", "consent_valid_days"]
        widgets = {"effective_on": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args, program: Program, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.program = program
        self.instance.utility_id = program.utility_id
        self.fields["effective_on"].initial = timezone.localdate

    def clean_version(self):
        version = self.cleaned_data["version"].strip()
        if TermsVersion.objects.filter(program=self.instance.program, version=version).exists():
            raise forms.ValidationError(
                "This program already has a terms version with this number."
            )
        return version


ACTION_LABELS = {
    "approve": "Approve (all rules pass)",
    "override": "Approve despite failed rules",
    "suspend": "Suspend",
    "reinstate": "Reinstate",
    "withdraw": "Withdraw",
    "end": "End",
}
REASON_REQUIRED = {"override", "suspend", "end"}


class EnrollmentActionForm(forms.Form):
    """One action on one enrollment. ``expected_status`` is the status the page showed: if
    the enrollment moved on since, nothing happens and the page says so."""

    action = forms.ChoiceField(choices=list(ACTION_LABELS.items()))
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )
    expected_status = forms.ChoiceField(choices=Enrollment.Status.choices, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("action") in REASON_REQUIRED and not (data.get("reason") or "").strip():
            self.add_error("reason", "Give a reason for this action.")
        return data


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(
        choices=[("approve", ACTION_LABELS["approve"]), ("override", ACTION_LABELS["override"])]
    )
    enrollments = forms.ModelMultipleChoiceField(
        queryset=Enrollment.objects.none(), error_messages={"required": "Select enrollments."}
    )
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=2000
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollments"].queryset = Enrollment.objects.only("pk")

    def clean(self):
        data = super().clean()
        if data.get("action") == "override" and not (data.get("reason") or "").strip():
            self.add_error("reason", "Overriding failed rules needs a reason.")
        return data


class StaffEnrollmentForm(forms.Form):
    """Staff enroll a customer (by phone, at an event): the program's current terms are what
    the customer accepts."""

    program = forms.ModelChoiceField(queryset=Program.objects.none())
    account_number = forms.CharField(max_length=32)
    vin = forms.CharField(label="VIN", max_length=17)
    data_sharing_scope = forms.MultipleChoiceField(
        choices=list(services.DATA_SHARING_SCOPES.items()),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Data the customer agrees to share",
    )
    consent_confirmed = forms.BooleanField(
        label="The customer accepted the program's current terms just now."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(
            status=Program.Status.OPEN
        ).order_by("name")

    def clean_account_number(self):
        number = self.cleaned_data["account_number"].strip()
        account = ServiceAccount.objects.filter(account_number=number).first()
        if account is None:
            raise forms.ValidationError("No customer with this account number.")
        self.account = account
        return number

    def clean_vin(self):
        try:
            vin = normalize_vin(self.cleaned_data["vin"])
        except InvalidVIN as exc:
            raise forms.ValidationError(str(exc)) from None
        vehicle = Vehicle.objects.filter(vin=vin, status=Vehicle.Status.ACTIVE).first()
        if vehicle is None:
            raise forms.ValidationError("No active vehicle with this VIN is registered here.")
        self.vehicle = vehicle
        return vin

    def clean(self):
        data = super().clean()
        program = data.get("program")
        if program is not None:
            self.terms = services.current_terms(program)
            if self.terms is None:
                self.add_error("program", "This program has no terms in effect yet.")
        return data


class OffboardForm(forms.Form):
    agreement = forms.ModelChoiceField(queryset=PartnerAgreement.objects.none())
    confirm = forms.BooleanField(
        label="Suspend this partner's active enrollments and withdraw its pending ones."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["agreement"].queryset = PartnerAgreement.objects.exclude(
            status=PartnerAgreement.Status.ACTIVE
        ).select_related("partner")
