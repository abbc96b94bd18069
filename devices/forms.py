"""Forms for the approved equipment list and the battery policies. Both offer only partners
with an agreement in the current utility: a partner id from anywhere else is a form error."""

from __future__ import annotations

from django import forms
from django.utils.dates import MONTHS

from devices import selectors
from devices.limits import firmware_key
from devices.models import ApprovedEquipment, BatteryPolicy
from portal.models import Utility


class UtilityModelForm(forms.ModelForm):
    """A form for one utility's row: the partner choice is limited to that utility's partners
    and the row belongs to the utility before validation, so checks can see its neighbours."""

    def __init__(self, *args, utility: Utility, **kwargs):
        super().__init__(*args, **kwargs)
        self.utility = utility
        self.instance.utility = utility
        self.fields["partner"].queryset = selectors.partners_with_agreement()
        self.fields["partner"].label = "Automaker"
        self.fields["partner"].help_text = "Partners with an agreement in this utility."

    def neighbours(self):
        """Other rows of this utility (the one being edited excluded)."""
        rows = self._meta.model.objects.filter(utility=self.utility)
        return rows.exclude(pk=self.instance.pk) if self.instance.pk else rows


class ApprovedEquipmentForm(UtilityModelForm):
    class Meta:
        model = ApprovedEquipment
        fields = [
            "partner",
            "vehicle_model",
            "charger_maker",
            "charger_model",
            "allows_v1g",
            "allows_v2h",
            "allows_v2g",
            "notes",
        ]
        labels = {
            "allows_v1g": "May run V1G (managed charging)",
            "allows_v2h": "May run V2H (vehicle-to-home)",
            "allows_v2g": "May run V2G (vehicle-to-grid)",
        }

    def clean(self):
        data = super().clean()
        if not any(data.get(f"allows_{mode}") for mode in ("v1g", "v2h", "v2g")):
            raise forms.ValidationError("Allow at least one mode for this pair.", code="no_mode")
        pair = {
            k: data.get(k) for k in ("partner", "vehicle_model", "charger_maker", "charger_model")
        }
        if all(pair.values()) and self.neighbours().filter(**pair).exists():
            raise forms.ValidationError(
                "This vehicle model and charger model pair is already on the list "
                "for this automaker; edit that entry instead.",
                code="duplicate_pair",
            )
        return data


class BatteryPolicyForm(UtilityModelForm):
    # Far above any real allowance, low enough to catch a slip of the keyboard.
    events_per_month_peak = forms.IntegerField(
        min_value=0, max_value=1000, label="Events per month, peak months"
    )
    events_per_month_off_peak = forms.IntegerField(
        min_value=0, max_value=1000, label="Events per month, other months"
    )
    peak_months = forms.TypedMultipleChoiceField(
        choices=sorted(MONTHS.items()),
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Months that use the peak-month event allowance.",
    )

    class Meta:
        model = BatteryPolicy
        fields = [
            "partner",
            "vehicle_model",
            "firmware_min",
            "firmware_max",
            "discharge_soc_floor_pct",
            "max_discharge_kw",
            "max_charge_kw",
            "events_per_month_peak",
            "events_per_month_off_peak",
            "peak_months",
            "max_hours_per_event",
            "annual_discharge_kwh",
            "active",
        ]
        labels = {
            "vehicle_model": "Vehicle model",
            "firmware_min": "Firmware from",
            "firmware_max": "Firmware up to",
            "discharge_soc_floor_pct": "Discharge floor (SoC %)",
            "max_discharge_kw": "Max discharge (kW)",
            "max_charge_kw": "Max charge (kW)",
            "max_hours_per_event": "Max hours per event",
            "annual_discharge_kwh": "Annual discharge (kWh)",
        }
        help_texts = {
            "firmware_min": "Optional. Versions compare part by part (1.10 is after 1.9).",
            "max_charge_kw": "Optional: empty when the automaker sets no charge limit.",
        }

    def clean_peak_months(self):
        return sorted(set(self.cleaned_data["peak_months"]))

    def clean(self):
        data = super().clean()
        low, high = data.get("firmware_min"), data.get("firmware_max")
        if low and high and firmware_key(low) > firmware_key(high):
            self.add_error("firmware_max", "Must not be before “Firmware from”.")
        same_scope = {k: data.get(k) for k in ("partner", "vehicle_model", "firmware_min")}
        if (
            data.get("active")
            and data.get("partner")
            and "firmware_max" not in self.errors
            and self.neighbours()
            .filter(active=True, firmware_max=data.get("firmware_max") or "", **same_scope)
            .exists()
        ):
            # Two active policies for the same models and firmware would make the choice
            # of policy (and so every limit) depend on row order.
            raise forms.ValidationError(
                "An active policy for this automaker, model and firmware range already "
                "exists; edit it or deactivate one of them.",
                code="duplicate_policy",
            )
        return data
