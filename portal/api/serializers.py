"""Serializers of the partner API's own resources: the client itself and its utilities."""

from __future__ import annotations

from rest_framework import serializers

from portal.models import PartnerAgreement, Utility


class UtilityRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Utility
        fields = ["slug", "name", "time_zone"]
        read_only_fields = fields


class PartnerRefSerializer(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.SlugField()


class MeSerializer(serializers.Serializer):
    """Serializes a ``portal.partners.PartnerAccess``."""

    partner = PartnerRefSerializer()
    client_id = serializers.CharField()
    scopes = serializers.SerializerMethodField()
    utilities = UtilityRefSerializer(many=True)

    def get_scopes(self, access) -> list[str]:
        return sorted(access.scopes)


class AgreementSerializer(serializers.ModelSerializer):
    class Meta:
        model = PartnerAgreement
        fields = ["status", "starts_on", "ends_on"]
        read_only_fields = fields


class UtilitySerializer(serializers.ModelSerializer):
    """A utility the client may act in, from the partner's agreement with it."""

    slug = serializers.SlugField(source="utility.slug")
    name = serializers.CharField(source="utility.name")
    time_zone = serializers.CharField(source="utility.time_zone")
    agreement = AgreementSerializer(source="*")

    class Meta:
        model = PartnerAgreement
        fields = ["slug", "name", "time_zone", "agreement"]
        read_only_fields = fields
