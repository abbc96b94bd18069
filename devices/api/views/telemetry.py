"""The telemetry endpoint of the partner API: a batch of readings, each bad one refused on its
own (``devices.telemetry``).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from devices.api import serializers as s
from devices.api.views.base import ERROR_REF, DeviceAPIError, DeviceAPIMixin
from devices.telemetry.ingest import MAX_READINGS_PER_BATCH, gc_paused, ingest
from devices.telemetry.readings import late_window
from portal.api.base import PartnerAPIView

READING_EXAMPLE = {
    "vehicle_id": "veh-8841",
    "ts": "2026-07-01T17:00:00-07:00",
    "soc": 64.5,
    "power_kw": -9.6,
    "plugged_in": True,
    "charging_state": "discharging",
}


class TelemetryView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["telemetry:write"]

    @extend_schema(
        operation_id="telemetry_create",
        summary="Post vehicle telemetry",
        description=(
            f"Up to {MAX_READINGS_PER_BATCH:,} readings. Valid readings are stored "
            "even when others are rejected; each rejected one comes back with its index and a "
            "stable code. Re-posting a reading (same vehicle and ts) stores nothing and counts "
            "it as a duplicate; late and out-of-order readings are accepted (up to "
            f"{late_window().days} days old). A vehicle that is not yours, or not in "
            "a utility this client may act in, is unknown_vehicle."
        ),
        request=s.TelemetryBatchSerializer,
        responses={
            200: s.TelemetryResultSerializer,
            413: OpenApiResponse(
                ERROR_REF,
                description=f"batch_too_large: more than {MAX_READINGS_PER_BATCH:,} "
                "readings; nothing was stored.",
            ),
        },
        examples=[
            OpenApiExample(
                "Two readings",
                value={"readings": [READING_EXAMPLE, {**READING_EXAMPLE, "soc": 140}]},
                request_only=True,
            ),
            OpenApiExample(
                "One accepted, one rejected",
                value={
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": [
                        {
                            "index": 1,
                            "code": "soc_out_of_range",
                            "message": "soc is 140 %, outside 0–100 %.",
                        }
                    ],
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        with gc_paused():  # parsing 5,000 readings makes as many objects as storing
            return self._ingest(request)

    def _ingest(self, request):
        body = request.data
        readings = body.get("readings") if isinstance(body, dict) else None
        if not isinstance(readings, list):
            raise exceptions.ValidationError(
                {"readings": ["A list of readings is required."]}, code="required"
            )
        if len(readings) > MAX_READINGS_PER_BATCH:
            raise DeviceAPIError(
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                code="batch_too_large",
                message=f"At most {MAX_READINGS_PER_BATCH} readings per request; "
                "nothing was stored. Split the batch.",
                details={"max_readings": MAX_READINGS_PER_BATCH, "got": len(readings)},
            )
        result = ingest(
            partner=request.partner,
            utility_ids=self.partner_access.utility_ids,
            readings=readings,
        )
        return Response(s.TelemetryResultSerializer(result).data)
