"""Forms of the tariff pages: validation only; the services write."""

from __future__ import annotations

from django import forms

from billing.rates.urdb import MAX_DOCUMENT_BYTES
from portal.customers.models import ServiceAccount


class DateInput(forms.DateInput):
    input_type = "date"


class TariffImportForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="URDB JSON file",
        help_text='A tariff as the OpenEI URDB API answers ({"items": [tariff]}) or a bare tariff.',
    )
    pasted = forms.CharField(
        required=False,
        label="…or paste the JSON",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )
    effective_from = forms.DateField(
        required=False,
        widget=DateInput,
        help_text="Blank: the tariff's own startdate. The version in force then ends the day before.",
    )
    effective_to = forms.DateField(required=False, widget=DateInput, help_text="Blank: open-ended.")

    def clean(self):
        cleaned = super().clean()
        upload, pasted = cleaned.get("file"), (cleaned.get("pasted") or "").strip()
        if bool(upload) == bool(pasted):
            raise forms.ValidationError("Upload a file or paste the JSON (one of them).")
        if upload and upload.size > MAX_DOCUMENT_BYTES:
            self.add_error("file", f"The file is over {MAX_DOCUMENT_BYTES // 1024} KB.")
        start, end = cleaned.get("effective_from"), cleaned.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", "The tariff cannot end before it starts.")
        return cleaned

    def document_data(self) -> bytes | str:
        upload = self.cleaned_data.get("file")
        if upload:
            return upload.read(MAX_DOCUMENT_BYTES + 1)
        return self.cleaned_data["pasted"]


class TariffAssignForm(forms.Form):
    rate_class = forms.ChoiceField(
        required=False,
        choices=[("", "—")] + list(ServiceAccount.RateClass.choices),
        help_text="Every account of this rate class…",
    )
    account_number = forms.CharField(
        required=False,
        max_length=32,
        help_text="…or one service account (its own assignment wins).",
    )
    effective_from = forms.DateField(widget=DateInput)
    effective_to = forms.DateField(required=False, widget=DateInput, help_text="Blank: open-ended.")

    def clean(self):
        cleaned = super().clean()
        rate_class = cleaned.get("rate_class")
        number = (cleaned.get("account_number") or "").strip()
        if bool(rate_class) == bool(number):
            raise forms.ValidationError("Choose a rate class or give one account number.")
        cleaned["service_account"] = None
        if number:
            # Scoped to the utility by the request's scope: another utility's account is unknown.
            account = ServiceAccount.objects.filter(account_number=number).first()
            if account is None:
                self.add_error("account_number", f"No service account {number} in this utility.")
            cleaned["service_account"] = account
        start, end = cleaned.get("effective_from"), cleaned.get("effective_to")
        if start and end and end < start:
            self.add_error("effective_to", "The assignment cannot end before it starts.")
        return cleaned


class EndAssignmentForm(forms.Form):
    last_day = forms.DateField(widget=DateInput, help_text="The last day the assignment applies.")
