"""Forms of the settlement and billing-impact pages."""

from __future__ import annotations

from datetime import date

from django import forms

from enrollment.models import Program


class MonthField(forms.Field):
    """A calendar month as YYYY-MM, cleaned to its first day."""

    widget = forms.TextInput(attrs={"maxlength": 7, "placeholder": "YYYY-MM"})

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", "YYYY-MM, in the utility's time zone.")
        super().__init__(**kwargs)

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        if len(text) > 7:
            raise forms.ValidationError("Enter a month as YYYY-MM, e.g. 2026-07.")
        try:
            year, month = (int(part) for part in text.split("-"))
            return date(year, month, 1)
        except ValueError:
            raise forms.ValidationError("Enter a month as YYYY-MM, e.g. 2026-07.") from None


class ProgramMonthForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none())
    month = MonthField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.order_by("name")


class StartRunForm(ProgramMonthForm):
    pass


class DisputeForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


class LineFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Account or customer", max_length=100)
    show = forms.ChoiceField(
        required=False,
        choices=[("", "All lines"), ("disputed", "Open disputes"), ("problems", "No bill")],
    )
