"""The opt-out endpoint of the partner API: a customer's opt-out from an event or a period."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from devices.api import serializers as s
from devices.api.views.base import ERROR_REF, DeviceAPIMixin, one_vehicle, partner_vehicles
from devices.services.opt_outs import record_opt_out
from portal.api.base import PartnerAPIView


class OptOutView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["vehicles:write"]

    @extend_schema(
        operation_id="opt_outs_create",
        summary="Record a customer's opt-out",
        description=(
            "The customer opted out in your app, of one event (event_id, as in the pulled "
            "commands) or of a time range. The vehicle's pending, sent and accepted commands "
            "it covers become opted_out. Posting the same reference again answers 200 with "
            "the first opt-out; a reference reused for a different opt-out is 409 "
            "reference_conflict. An unknown vehicle is 404 unknown_vehicle."
        ),
        request=s.OptOutRequestSerializer,
        responses={
            201: s.OptOutSerializer,
            200: OpenApiResponse(s.OptOutSerializer, description="Already recorded."),
            409: OpenApiResponse(ERROR_REF, description="reference_conflict"),
            404: OpenApiResponse(ERROR_REF, description="unknown_vehicle"),
        },
        examples=[
            OpenApiExample(
                "One event",
                value={
                    "vehicle_id": "veh-8841",
                    "event_id": "evt-2026-07-01-peak",
                    "reason": "Driver needs the car",
                    "reference": "optout-77812",
                },
                request_only=True,
            ),
            OpenApiExample(
                "A range",
                value={
                    "vin": "1FTVW1EL7NWG00001",
                    "starts_at": "2026-07-03T00:00:00-07:00",
                    "ends_at": "2026-07-05T00:00:00-07:00",
                    "reference": "optout-77813",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = s.OptOutRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vehicles = partner_vehicles(self)
        if data.get("vehicle_id"):
            vehicles = vehicles.filter(partner_vehicle_id=data["vehicle_id"])
        if data.get("vin"):
            vehicles = vehicles.filter(vin=data["vin"].strip().upper())
        opt_out, created = record_opt_out(
            vehicle=one_vehicle(vehicles, active_only=True),
            event_ref=data["event_id"],
            starts_at=data["starts_at"],
            ends_at=data["ends_at"],
            reason=data["reason"],
            reference=data["reference"],
            **self.partner_access.audit_actor,
        )
        return Response(
            s.OptOutSerializer(opt_out).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
