"""Event forms. Times are entered in the utility's time zone and stored in UTC."""

from __future__ import annotations

from datetime import datetime

from django import forms

from dispatch.models import Event
from enrollment.models import Program


class EventForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    event_type = forms.ChoiceField(choices=Event.Type.choices)
    starts_at = forms.DateTimeField(
        label="Start (local time)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    duration_minutes = forms.IntegerField(min_value=1, max_value=24 * 60, initial=120)
    notification_lead_minutes = forms.IntegerField(min_value=0, initial=60)
    randomize_start_minutes = forms.IntegerField(min_value=0, initial=0)
    target_kw = forms.FloatField(
        min_value=0, required=False, label="Target kW", help_text="Empty: all available."
    )
    priority = forms.IntegerField(initial=0)

    def __init__(self, *args, utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.fields["program"].queryset = Program.objects.exclude(status=Program.Status.DRAFT)
        self.fields["starts_at"].help_text = f"In {utility.time_zone}."

    def clean_starts_at(self) -> datetime:
        value = self.cleaned_data["starts_at"]
        # The browser sends a naive local time; it means the utility's zone, not the server's.
        return value.replace(tzinfo=None).replace(tzinfo=self.utility.tzinfo)


class EventActionForm(forms.Form):
    expected_modification = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    minutes = forms.IntegerField(min_value=1, max_value=24 * 60, required=False)
    reason = forms.CharField(required=False, max_length=500)
