"""Serializers of the device endpoints: the wire shapes of docs/partner-protocol.md.

They check the shape of a request and describe it in the OpenAPI schema; the rules that
need the database (conflicts, accounts, command transitions) live in ``devices.services``.
Telemetry readings are checked one by one by ``devices.telemetry.readings`` (each bad
reading is answered with its index), so their serializers here only document them.
"""

from __future__ import annotations

import re
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.models import CustomerPreference, DeviceCommand, Mode, OptOut, Vehicle
from devices.services.commands import ACKNOWLEDGED_STATUSES
from devices.telemetry.ingest import MAX_READINGS_PER_BATCH
from devices.telemetry.readings import CHARGING_STATES, RejectCode, parse_timestamp
from devices.vin import InvalidVIN, normalize_vin
from portal.api.customer_lookup import AUTHORIZATION_CODE_HELP

# --- Fields ---------------------------------------------------------------------------------


class VINField(serializers.CharField):
    """A VIN, upper-cased and check-digit validated (error code ``invalid_vin``)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, **kwargs)

    def to_internal_value(self, data):
        try:
            return normalize_vin(super().to_internal_value(data))
        except InvalidVIN as exc:
            raise serializers.ValidationError(str(exc), code="invalid_vin") from None


class OffsetDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset; a time without one is refused, never guessed."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601 with a UTC offset")
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise serializers.ValidationError(f"The time {exc}", code="invalid") from None


@extend_schema_field(
    serializers.ListField(child=serializers.ChoiceField(choices=Mode.choices), min_length=1)
)
class CapabilitiesField(serializers.ListField):
    """The modes a vehicle supports, as ``["v1g", "v2h", "v2g"]``."""

    child = serializers.ChoiceField(choices=Mode.choices)

    def __init__(self, **kwargs):
        super().__init__(allow_empty=False, max_length=len(Mode), **kwargs)

    def get_attribute(self, vehicle: Vehicle) -> list[str]:
        return [str(mode) for mode in vehicle.modes]

    def to_internal_value(self, data) -> list[str]:
        return sorted(set(super().to_internal_value(data)))


class AccountNumberField(serializers.CharField):
    """The customer's service account number in the vehicle's utility (null: none)."""

    def __init__(self, **kwargs):
        super().__init__(max_length=32, allow_null=True, allow_blank=True, **kwargs)

    def get_attribute(self, vehicle: Vehicle) -> str | None:
        return vehicle.service_account.account_number if vehicle.service_account_id else None


class UtilitySlugField(serializers.SlugField):
    def __init__(self, **kwargs):
        super().__init__(max_length=50, **kwargs)

    def get_attribute(self, instance) -> str:
        return instance.utility.slug


# --- Vehicles ---------------------------------------------------------------------------------


class VehicleSerializer(serializers.ModelSerializer):
    """A vehicle as registered: the registration request, and every vehicle answer."""

    utility = UtilitySlugField(help_text="The utility (program) the vehicle is enrolled with.")
    vin = VINField(help_text="17 characters; the check digit (position 9) is verified.")
    vehicle_id = serializers.CharField(
        source="partner_vehicle_id", max_length=64, help_text="Your own id for the vehicle."
    )
    capabilities = CapabilitiesField()
    account_number = AccountNumberField(
        required=False,
        help_text="The customer's service account number in that utility, if known. Linking "
        "an account takes its zip_code and, the first time, the customer's authorization_code.",
    )
    zip_code = serializers.RegexField(
        r"^\d{5}$",
        write_only=True,
        required=False,
        help_text="The premise ZIP code of account_number; required with it.",
    )
    authorization_code = serializers.CharField(
        max_length=20, write_only=True, required=False, allow_blank=True, default="",
        help_text=AUTHORIZATION_CODE_HELP,
    )  # fmt: skip

    class Meta:
        model = Vehicle
        fields = [
            "utility",
            "vin",
            "vehicle_id",
            "model",
            "model_year",
            "usable_battery_kwh",
            "capabilities",
            "max_charge_kw",
            "max_discharge_kw",
            "firmware_version",
            "account_number",
            "zip_code",
            "authorization_code",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["status", "created_at", "updated_at"]
        validators: list = []  # uniqueness is the service's, with its own error codes

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        number = attrs.get("account_number")
        linked = self.instance.service_account if self.instance is not None else None
        if (
            number
            and not attrs.get("zip_code")
            and not (linked and linked.account_number == number)
        ):
            raise serializers.ValidationError(
                {"zip_code": "Required to link an account."}, code="required"
            )
        modes = attrs.get("capabilities")
        if modes is None and self.instance is not None:
            modes = self.instance.modes
        discharges = bool(modes) and bool({Mode.V2H, Mode.V2G} & set(modes))
        max_discharge_kw = attrs.get(
            "max_discharge_kw", self.instance.max_discharge_kw if self.instance else 0
        )
        if discharges and not max_discharge_kw:
            raise serializers.ValidationError(
                {"max_discharge_kw": "A V2H or V2G vehicle needs its discharge rating."},
                code="required",
            )
        return attrs


class VehicleUpdateSerializer(VehicleSerializer):
    """The fields a PATCH may change. The VIN and utility are fixed: register anew instead."""

    class Meta(VehicleSerializer.Meta):
        read_only_fields = ["utility", "vin", "created_at", "updated_at"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        fixed = sorted({"utility", "vin"} & set(self.initial_data))
        if fixed:
            raise serializers.ValidationError(
                {name: "Cannot be changed; register the vehicle anew." for name in fixed},
                code="read_only",
            )
        return super().validate(attrs)


# --- Telemetry ------------------------------------------------------------------------------


class TelemetryReadingSerializer(serializers.Serializer):
    """One reading, in the portal's names and units. Your agreement's field map renames
    your own field names, and its units turn W into kW and a 0–1 fraction into percent."""

    vehicle_id = serializers.CharField(required=False, help_text="Your id (or give the vin).")
    vin = serializers.CharField(required=False, help_text="The VIN (or give the vehicle_id).")
    ts = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset.")
    soc = serializers.FloatField(help_text="State of charge, 0–100 %.")
    power_kw = serializers.FloatField(
        help_text="+ charging (import), − discharging (export); within the vehicle's rating."
    )
    plugged_in = serializers.BooleanField()
    charging_state = serializers.ChoiceField(choices=CHARGING_STATES)


class TelemetryBatchSerializer(serializers.Serializer):
    readings = serializers.ListField(
        child=TelemetryReadingSerializer(), max_length=MAX_READINGS_PER_BATCH
    )


class RejectedReadingSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="Position of the reading in the batch, from 0.")
    code = serializers.ChoiceField(choices=[code.value for code in RejectCode])
    message = serializers.CharField()


class TelemetryResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField(help_text="Readings stored now.")
    duplicates = serializers.IntegerField(
        help_text="Readings already stored (or repeated in this batch): not stored again."
    )
    rejected = RejectedReadingSerializer(many=True)


# --- Commands -------------------------------------------------------------------------------


class CommandPullQuerySerializer(serializers.Serializer):
    utility = serializers.SlugField(required=False, help_text="Only this utility's commands.")
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=100)


class PulledCommandSerializer(serializers.ModelSerializer):
    command_id = serializers.CharField(
        source="idempotency_key", help_text="Acknowledge with this id; stable across resends."
    )
    utility = serializers.SlugField(source="utility.slug")
    vehicle_id = serializers.CharField(source="vehicle.partner_vehicle_id")
    vin = serializers.CharField(source="vehicle.vin")
    setpoint_kw = serializers.FloatField(help_text="+ charge, − discharge, 0 hold.")
    event_id = serializers.CharField(
        source="source_id", help_text="The event this command serves (for opt-outs)."
    )

    class Meta:
        model = DeviceCommand
        fields = [
            "command_id",
            "utility",
            "vehicle_id",
            "vin",
            "kind",
            "setpoint_kw",
            "starts_at",
            "ends_at",
            "event_id",
            "revision",
            "status",
        ]
        read_only_fields = fields


class CommandPullSerializer(serializers.Serializer):
    commands = PulledCommandSerializer(many=True)


class CommandAckItemSerializer(serializers.Serializer):
    command_id = serializers.CharField(max_length=120)
    status = serializers.ChoiceField(choices=[str(status) for status in ACKNOWLEDGED_STATUSES])
    reason = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")
    at = OffsetDateTimeField(
        required=False, allow_null=True, default=None, help_text="When it happened (else now)."
    )


class CommandAckSerializer(serializers.Serializer):
    acks = serializers.ListField(
        child=CommandAckItemSerializer(), allow_empty=False, max_length=1000
    )


class AckResultSerializer(serializers.Serializer):
    command_id = serializers.CharField()
    ok = serializers.BooleanField()
    changed = serializers.BooleanField(help_text="False when the command had this status.")
    status = serializers.CharField(allow_null=True, help_text="The command's status now.")
    code = serializers.ChoiceField(
        choices=["", "unknown_command", "invalid_transition"], help_text="When not ok."
    )
    message = serializers.CharField(allow_blank=True)


class CommandAckResultSerializer(serializers.Serializer):
    results = AckResultSerializer(many=True, help_text="One per acknowledgement, in order.")


# --- Opt-outs -------------------------------------------------------------------------------


class OptOutRequestSerializer(serializers.Serializer):
    vehicle_id = serializers.CharField(max_length=64, required=False)
    vin = serializers.CharField(max_length=32, required=False)
    event_id = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default="", help_text="One event…"
    )
    starts_at = OffsetDateTimeField(required=False, allow_null=True, default=None)
    ends_at = OffsetDateTimeField(
        required=False, allow_null=True, default=None, help_text="…or a time range."
    )
    reason = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")
    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text="Your id for this opt-out: posting it again changes nothing.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("vehicle_id") and not attrs.get("vin"):
            raise serializers.ValidationError(_("Give the vehicle_id or the vin."), code="required")
        has_range = attrs["starts_at"] is not None or attrs["ends_at"] is not None
        if bool(attrs["event_id"]) == has_range:
            raise serializers.ValidationError(
                _("Give either an event_id or a time range (starts_at and ends_at)."),
                code="event_or_range",
            )
        if has_range:
            if attrs["starts_at"] is None or attrs["ends_at"] is None:
                missing = "starts_at" if attrs["starts_at"] is None else "ends_at"
                raise serializers.ValidationError({missing: _("Required with a range.")})
            if attrs["ends_at"] <= attrs["starts_at"]:
                raise serializers.ValidationError({"ends_at": _("Must be after starts_at.")})
        return attrs


class OptOutSerializer(serializers.ModelSerializer):
    utility = UtilitySlugField()
    vehicle_id = serializers.CharField(source="vehicle.partner_vehicle_id")
    vin = serializers.CharField(source="vehicle.vin")
    event_id = serializers.CharField(source="event_ref")
    reference = serializers.CharField(source="partner_reference")

    class Meta:
        model = OptOut
        fields = [
            "reference",
            "utility",
            "vehicle_id",
            "vin",
            "event_id",
            "starts_at",
            "ends_at",
            "reason",
            "received_at",
        ]
        read_only_fields = fields


_TIME_OFFSET = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$", re.IGNORECASE)


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$",
        "example": "07:30",
        "description": "Local wall-clock time at the premise, HH:MM[:SS], without an offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time at the premise. An offset (``07:30+02:00``) is refused, never
    silently dropped: the time means the premise's local time whatever its offset that day."""

    def to_internal_value(self, value):
        # Django's time parser drops an offset without a word; look for one first.
        if isinstance(value, str) and _TIME_OFFSET.search(value.strip()):
            raise serializers.ValidationError(
                "Give the local time at the premise without an offset, e.g. 07:30.",
                code="offset_not_allowed",
            )
        return super().to_internal_value(value)


class PreferenceSerializer(serializers.ModelSerializer):
    """What the driver set in the automaker's app. A reserve is a SoC percentage or miles
    (with the vehicle's miles per kWh); the departure time is local to the premise."""

    departure_time = LocalTimeField(required=False, allow_null=True)
    updated_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="Null until preferences are first set."
    )

    class Meta:
        model = CustomerPreference
        fields = [
            "reserve_soc_pct",
            "reserve_miles",
            "miles_per_kwh",
            "departure_time",
            "target_soc_pct",
            "updated_at",
        ]
        read_only_fields = ["updated_at"]
