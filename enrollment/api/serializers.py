"""Serializers of the partner API's enrollment endpoints: the submission body, consent, and
the enrollment as partners see it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from devices.vin import InvalidVIN, normalize_vin
from enrollment import eligibility
from enrollment.models import Consent, Enrollment
from enrollment.services.consent import DATA_SHARING_SCOPES
from enrollment.services.submission import PARTNER_CHANNELS
from portal.api.customer_lookup import AUTHORIZATION_CODE_HELP


class VehicleRefSerializer(serializers.Serializer):
    """One of your registered vehicles: by VIN or by your own vehicle id (exactly one)."""

    vin = serializers.CharField(required=False, max_length=17)
    vehicle_id = serializers.CharField(required=False, max_length=64)

    def validate_vin(self, value: str) -> str:
        try:
            return normalize_vin(value)
        except InvalidVIN as exc:
            raise serializers.ValidationError(str(exc), code="invalid_vin") from None

    def validate(self, data):
        if ("vin" in data) == ("vehicle_id" in data):
            raise serializers.ValidationError(
                "Give either vin or vehicle_id.", code="vin_or_vehicle_id"
            )
        return data


class ConsentInputSerializer(serializers.Serializer):
    terms_version = serializers.CharField(
        max_length=20, help_text="The version of the program's terms the customer accepted."
    )
    accepted_at = serializers.DateTimeField(help_text="When, ISO 8601 with an offset.")
    channel = serializers.ChoiceField(
        choices=[(c.value, c.label) for c in PARTNER_CHANNELS],
        default=Enrollment.Channel.AUTOMAKER_APP,
    )
    data_sharing_scope = serializers.ListField(
        child=serializers.ChoiceField(choices=list(DATA_SHARING_SCOPES.items())),
        default=list,
        max_length=len(DATA_SHARING_SCOPES),
        help_text="What the customer agreed to share: " + ", ".join(DATA_SHARING_SCOPES) + ".",
    )


class EnrollmentCreateSerializer(serializers.Serializer):
    utility = serializers.SlugField(help_text="Utility slug (GET /api/v1/utilities).")
    program = serializers.SlugField(help_text="Program slug in that utility.")
    account_number = serializers.CharField(max_length=32)
    zip_code = serializers.RegexField(
        r"^\d{5}$",
        help_text="The premise ZIP code; with the account number it verifies the account.",
    )
    authorization_code = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text=AUTHORIZATION_CODE_HELP
        + " Not needed when the vehicle is already linked to this account.",
    )
    vehicle = VehicleRefSerializer()
    consent = ConsentInputSerializer()


class WithdrawSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=250, required=False, allow_blank=True, default="")


class ConsentSerializer(serializers.ModelSerializer):
    terms_version = serializers.CharField(source="terms_version.version")

    class Meta:
        model = Consent
        fields = [
            "terms_version",
            "accepted_at",
            "expires_at",
            "revoked_at",
            "channel",
            "data_sharing_scope",
        ]
        read_only_fields = fields


class RuleResultSerializer(serializers.Serializer):
    rule = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()


class EnrollmentVehicleSerializer(serializers.Serializer):
    vin = serializers.CharField()
    vehicle_id = serializers.CharField(source="partner_vehicle_id")


class EnrollmentSerializer(serializers.ModelSerializer):
    """An enrollment as its partner sees it. ``consent`` is the latest one (the view passes
    them in ``context["consents"]``, loaded for the whole page at once).

    Never the customer's medical need, income tier, rate class or meter: the rules that read
    them are one ``account`` outcome here (``eligibility.results_for_partner``)."""

    utility = serializers.SlugField(source="utility.slug")
    program = serializers.SlugField(source="program.slug")
    program_name = serializers.CharField(source="program.name")
    status_reason = serializers.SerializerMethodField()
    account_number = serializers.CharField(source="service_account.account_number")
    vehicle = EnrollmentVehicleSerializer()
    eligibility = serializers.SerializerMethodField()
    failed_rules = serializers.SerializerMethodField()
    consent = serializers.SerializerMethodField()

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "utility",
            "program",
            "program_name",
            "status",
            "status_reason",
            "account_number",
            "vehicle",
            "eligibility",
            "failed_rules",
            "consent",
            "submitted_at",
            "waitlisted_at",
            "activated_at",
            "ended_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_status_reason(self, enrollment) -> str:
        return eligibility.status_reason_for_partner(enrollment.status_reason)

    @extend_schema_field(RuleResultSerializer(many=True))
    def get_eligibility(self, enrollment):
        return eligibility.results_for_partner(enrollment.eligibility or [])

    def get_failed_rules(self, enrollment) -> list[str]:
        return eligibility.failed_rules_for_partner(enrollment.failed_rules or [])

    @extend_schema_field(ConsentSerializer(allow_null=True))
    def get_consent(self, enrollment):
        consent = self.context.get("consents", {}).get(enrollment.pk)
        return ConsentSerializer(consent).data if consent else None
