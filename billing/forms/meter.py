"""The meter data import form: the file, the account it belongs to, and the UsagePoint when
the file holds several. Validation only; the import is billing.services.meter's."""

from __future__ import annotations

from django import forms

from billing.intervals import UsagePointInfo
from billing.services.meter import AccountNotFound, account_by_number, max_upload_bytes


class MeterImportForm(forms.Form):
    file = forms.FileField(
        label="Interval file",
        widget=forms.ClearableFileInput(attrs={"accept": ".xml,.csv,text/xml,text/csv"}),
    )
    account_number = forms.CharField(label="Service account number", max_length=32)
    usage_point = forms.CharField(
        label="UsagePoint",
        required=False,
        widget=forms.HiddenInput,
        help_text="The file holds several UsagePoints: the one that is this account's premise.",
    )

    def __init__(self, *args, usage_points: list[UsagePointInfo] = (), **kwargs):
        super().__init__(*args, **kwargs)
        limit_mb = max_upload_bytes() / (1024 * 1024)
        self.fields["file"].help_text = (
            f"Green Button XML (ESPI) or a CSV with the header start,kwh (ISO 8601 times with "
            f"an offset or Z; negative kWh is export), at most {limit_mb:g} MB."
        )
        if usage_points:
            self.fields["usage_point"].widget = forms.Select(
                choices=[("", "Choose…"), *((p.key, p.label) for p in usage_points)]
            )
            self.fields["usage_point"].required = True

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = max_upload_bytes()
        if not upload.size:
            raise forms.ValidationError("The file is empty.")
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes."
            )
        return upload

    def clean_account_number(self):
        try:
            return account_by_number(self.cleaned_data["account_number"])
        except AccountNotFound as error:
            raise forms.ValidationError(error.message) from None


class MeterPeriodForm(forms.Form):
    """The period of the account's meter data page (local dates, both included)."""

    MAX_DAYS = 92

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if end < start:
                raise forms.ValidationError("The end is before the start.")
            if (end - start).days >= self.MAX_DAYS:
                raise forms.ValidationError(f"At most {self.MAX_DAYS} days at a time.")
        return cleaned
