"""Forms of the interconnection pages. They validate input; the services decide."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator

from devices.models import Charger, Vehicle
from enrollment.interconnection.models import (
    ApplicationDocument,
    ApplicationMessage,
    DeficiencyItem,
    InterconnectionApplication,
    Transformer,
)
from enrollment.interconnection.services import DRAFT_FIELDS, DeficiencyItemInput, check_upload
from portal.models import AHJ, AHJTerritory, Utility

Application = InterconnectionApplication


class NewApplicationForm(forms.Form):
    """Which utility and which customer. The view checks the customer's authorization: the
    account number and ZIP code must match, and an installer with no application for the
    account yet needs the authorization code the utility gave the customer."""

    utility = forms.ModelChoiceField(queryset=Utility.objects.none(), empty_label=None)
    account_number = forms.CharField(max_length=32)
    zip_code = forms.RegexField(regex=r"^\d{5}$", label="Premise ZIP code")
    authorization_code = forms.CharField(
        max_length=20,
        required=False,
        label="Customer authorization code",
        help_text="The code the utility issued to the customer (e.g. on the bill), which the "
        "customer gave you. Not needed for a customer you already have an application for.",
    )
    configuration = forms.ChoiceField(choices=Application.Configuration.choices)

    def __init__(self, *args, utilities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["utility"].queryset = utilities


class ApplicationForm(forms.ModelForm):
    """The draft's details. Everything may be left empty while drafting: the checklist says
    what is still missing before submission."""

    # Querysets are set per application (tenant-owned tables need its scope).
    ahj = forms.ModelChoiceField(queryset=None, required=False, label="AHJ (permit authority)")
    vehicle = forms.ModelChoiceField(queryset=None, required=False)
    charger = forms.ModelChoiceField(queryset=None, required=False)
    transformer = forms.ModelChoiceField(
        queryset=None, required=False, label="Transformer (if known)"
    )

    class Meta:
        model = Application
        fields = DRAFT_FIELDS
        labels = {
            "ahj": "AHJ (permit authority)",
            "nameplate_kw": "Nameplate (kW)",
            "requested_export_kw": "Requested export (kW)",
            "panel_rating_amps": "Service panel rating (A)",
            "busbar_rating_amps": "Busbar rating (A)",
            "main_breaker_amps": "Main breaker (A)",
            "backfeed_breaker_amps": "EVSE backfeed breaker (A)",
            "transformer": "Transformer (if known)",
        }

    def __init__(self, *args, application: Application, **kwargs):
        super().__init__(*args, instance=application, **kwargs)
        account_id = application.service_account_id
        utility_id = application.utility_id
        self.fields["ahj"].queryset = AHJ.objects.filter(
            pk__in=AHJTerritory.objects.filter(utility_id=utility_id).values("ahj_id")
        )
        self.fields["vehicle"].queryset = Vehicle.objects.filter(
            utility_id=utility_id, service_account_id=account_id
        )
        self.fields["charger"].queryset = Charger.objects.filter(
            utility_id=utility_id, service_account_id=account_id
        )
        self.fields["transformer"].queryset = Transformer.objects.filter(utility_id=utility_id)
        for name in ("nameplate_kw", "requested_export_kw"):
            self.fields[name].validators.append(MinValueValidator(0))

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in DRAFT_FIELDS}


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(choices=ApplicationDocument.Kind.choices)
    file = forms.FileField(help_text="PDF, PNG or JPEG, up to 20 MB.")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        check_upload(upload)
        return upload


class DeficiencyItemForm(forms.Form):
    topic = forms.ChoiceField(choices=DeficiencyItem.Topic.choices, required=False)
    document_kind = forms.ChoiceField(
        choices=[("", "—")] + ApplicationDocument.Kind.choices, required=False
    )
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)


DeficiencyFormSet = forms.formset_factory(DeficiencyItemForm, extra=3, max_num=20)


def deficiency_items(formset) -> list[DeficiencyItemInput]:
    return [
        DeficiencyItemInput(
            topic=f.cleaned_data.get("topic") or DeficiencyItem.Topic.OTHER,
            comment=f.cleaned_data.get("comment", ""),
            document_kind=f.cleaned_data.get("document_kind", ""),
        )
        for f in formset.forms
        if f.cleaned_data.get("comment", "").strip()
    ]


def document_needed(item: DeficiencyItem) -> str:
    what = item.get_document_kind_display() or "the document"
    return f"This item asks for a new version of {what}: upload it (a comment alone won't do)."


class AnswerForm(forms.Form):
    """One response (and optional re-upload) per item of the open deficiency."""

    def __init__(self, *args, deficiency, **kwargs):
        super().__init__(*args, **kwargs)
        self.deficiency_items = list(deficiency.items.all())
        for item in self.deficiency_items:
            self.fields[f"response_{item.pk}"] = forms.CharField(
                label=item.comment,
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            self.fields[f"file_{item.pk}"] = forms.FileField(
                label=f"Re-upload ({item.get_document_kind_display() or 'document'})",
                required=False,
            )

    def clean(self):
        data = super().clean()
        for item in self.deficiency_items:
            upload = data.get(f"file_{item.pk}")
            if upload:
                try:
                    check_upload(upload)
                except ValidationError as error:
                    self.add_error(f"file_{item.pk}", error)
            if item.needs_document and not upload:
                self.add_error(f"file_{item.pk}", document_needed(item))
            elif not (data.get(f"response_{item.pk}", "").strip() or upload):
                self.add_error(f"response_{item.pk}", "Answer this item (a comment or a file).")
        return data

    def rows(self):
        return [
            (item, self[f"response_{item.pk}"], self[f"file_{item.pk}"])
            for item in self.deficiency_items
        ]


class ActionForm(forms.Form):
    """A decision on the application: the action, the state the page showed (so a double
    click or a stale page is caught) and the action's details."""

    action = forms.CharField(max_length=40)
    expected = forms.CharField(max_length=24, required=False)
    comment = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    permit_number = forms.CharField(max_length=40, required=False)
    on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    inspected_on = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    approved_export_kw = forms.FloatField(required=False, min_value=0)
    engineer = forms.IntegerField(required=False)


class MessageForm(forms.Form):
    """A message to the other parties of the application."""

    body = forms.CharField(
        label="Message",
        max_length=ApplicationMessage.MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Write a message first."},
    )
