"""Device endpoints of the partner API (docs/partner-protocol.md): vehicles, telemetry,
commands and opt-outs.

Each view runs inside the scope of the utilities the client may act in (``PartnerAPIMixin``)
and sees only its own partner's vehicles and commands there: anything else is answered
exactly like something that does not exist. The views parse and answer; the work is done by
``devices.services`` and ``devices.telemetry``, whose refusals (``DeviceError``) become the
one error shape here, with their stable codes.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.response import Response

from devices import services, telemetry
from devices.api import serializers as s
from devices.api.filters import VehicleAPIFilter
from devices.models import CustomerPreference, Vehicle
from devices.vin import InvalidVIN, normalize_vin
from portal.api.base import PartnerAPIView, PartnerViewSet
from portal.api.errors import APIError

ERROR_REF = {"$ref": "#/components/schemas/Error"}


class DeviceAPIError(APIError):
    """A ``devices.services.DeviceError`` (or a batch refusal) in the one error shape."""

    def __init__(self, *, status_code: int, code: str, message: str, details=None):
        self.status_code = status_code
        self.code = code  # type: ignore[assignment] - the devices' own stable codes
        super().__init__(message, details=details)

    @classmethod
    def from_domain(cls, error: services.DeviceError) -> DeviceAPIError:
        status_code = status.HTTP_400_BAD_REQUEST
        if isinstance(error, services.DeviceNotFound):
            status_code = status.HTTP_404_NOT_FOUND
        elif isinstance(error, services.DeviceConflict):
            status_code = status.HTTP_409_CONFLICT
        return cls(
            status_code=status_code, code=error.code, message=error.message, details=error.details
        )


class DeviceAPIMixin:
    def handle_exception(self, exc):
        if isinstance(exc, services.DeviceError):
            exc = DeviceAPIError.from_domain(exc)
        return super().handle_exception(exc)


def partner_vehicles(view) -> QuerySet[Vehicle]:
    """The client's partner's vehicles in the utilities it may act in."""
    return Vehicle.objects.filter(
        partner=view.request.partner, utility_id__in=view.partner_access.utility_ids
    )


def one_vehicle(vehicles: QuerySet[Vehicle], *, active_only: bool = False) -> Vehicle:
    """The active vehicle among ``vehicles`` (a VIN or partner id may have old, inactive
    registrations too), else the latest registration; several active ones (one partner id
    in two utilities) are ambiguous."""
    if active_only:
        vehicles = vehicles.filter(status=Vehicle.Status.ACTIVE)
    candidates = list(
        vehicles.select_related("utility", "service_account")
        .annotate(
            inactive=Case(
                When(status=Vehicle.Status.ACTIVE, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("inactive", "-created_at", "-pk")[:2]
    )
    if not candidates:
        raise services.UnknownVehicle("No such vehicle of yours here.")
    if len(candidates) == 2 and candidates[1].status == Vehicle.Status.ACTIVE:
        raise services.AmbiguousVehicle(
            "This vehicle_id names vehicles in several utilities; give ?utility= or the vin."
        )
    return candidates[0]


# --- Vehicles -------------------------------------------------------------------------------

VEHICLE_EXAMPLE = {
    "utility": "pvp",
    "vin": "1FTVW1EL7NWG00001",
    "vehicle_id": "veh-8841",
    "model": "F-150 Lightning",
    "model_year": 2024,
    "usable_battery_kwh": 131.0,
    "capabilities": ["v1g", "v2h"],
    "max_charge_kw": 19.2,
    "max_discharge_kw": 9.6,
    "firmware_version": "4.2.1",
    "account_number": "4400012345",
}
VEHICLE_ANSWER = {
    **VEHICLE_EXAMPLE,
    "status": "active",
    "created_at": "2026-07-01T17:00:00Z",
    "updated_at": "2026-07-01T17:00:00Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="List your vehicles",
        description="Your vehicles in the utilities this client may act in, by VIN.",
    ),
    create=extend_schema(
        summary="Register a vehicle",
        request=s.VehicleSerializer,
        responses={
            201: s.VehicleSerializer,
            409: OpenApiResponse(
                ERROR_REF,
                description="vin_active_elsewhere: the VIN is active in another program or "
                "with another partner (which one is not said); vehicle_exists: you "
                "registered this VIN, or use this vehicle_id, here already.",
            ),
            404: OpenApiResponse(ERROR_REF, description="No such utility for this client."),
        },
        examples=[
            OpenApiExample("Registration", value=VEHICLE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Registered", value=VEHICLE_ANSWER, response_only=True, status_codes=["201"]
            ),
        ],
        description="Field errors are validation_failed with a code per field, among them "
        "invalid_vin (the check digit is verified) and unknown_account.",
    ),
    retrieve=extend_schema(
        summary="One of your vehicles, by VIN",
        description="The active registration of this VIN, else your latest one.",
        examples=[OpenApiExample("A vehicle", value=VEHICLE_ANSWER, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Update one of your vehicles, by VIN",
        request=s.VehicleUpdateSerializer,
        responses={200: s.VehicleSerializer, 409: OpenApiResponse(ERROR_REF)},
        examples=[
            OpenApiExample(
                "New firmware and rating",
                value={"firmware_version": "4.3.0", "max_discharge_kw": 11.5},
                request_only=True,
            ),
            OpenApiExample("Sold: deactivate", value={"status": "inactive"}, request_only=True),
        ],
    ),
)
class VehicleViewSet(DeviceAPIMixin, mixins.ListModelMixin, PartnerViewSet):
    """Vehicles of the client's partner, addressed by VIN."""

    required_scopes = {
        "GET": ["vehicles:read"],
        "POST": ["vehicles:write"],
        "PATCH": ["vehicles:write"],
    }
    serializer_class = s.VehicleSerializer
    filterset_class = VehicleAPIFilter
    lookup_field = "vin"

    def get_queryset(self) -> QuerySet[Vehicle]:
        if getattr(self, "swagger_fake_view", False):
            return Vehicle.objects.none()
        return (
            partner_vehicles(self)
            .select_related("utility", "service_account")
            .order_by("vin", "-created_at", "pk")
        )

    def get_object(self) -> Vehicle:
        try:
            vin = normalize_vin(self.kwargs["vin"])
        except InvalidVIN:
            raise services.UnknownVehicle("No such vehicle of yours here.") from None
        return one_vehicle(partner_vehicles(self).filter(vin=vin))

    def create(self, request):
        serializer = s.VehicleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        vehicle = services.register_vehicle(
            utility=self.get_utility(data["utility"]),
            partner=request.partner,
            vin=data["vin"],
            partner_vehicle_id=data["partner_vehicle_id"],
            model=data["model"],
            model_year=data["model_year"],
            usable_battery_kwh=data["usable_battery_kwh"],
            modes=data["capabilities"],
            max_charge_kw=data["max_charge_kw"],
            max_discharge_kw=data.get("max_discharge_kw", 0),
            firmware_version=data.get("firmware_version", ""),
            account_number=data.get("account_number"),
            **self.partner_access.audit_actor,
        )
        location = reverse("api:v1:vehicle-detail", kwargs={"vin": vehicle.vin})
        return Response(
            s.VehicleSerializer(vehicle).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )

    def retrieve(self, request, **kwargs):
        return Response(s.VehicleSerializer(self.get_object()).data)

    def partial_update(self, request, **kwargs):
        vehicle = self.get_object()
        serializer = s.VehicleUpdateSerializer(vehicle, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "capabilities" in changes:
            changes["modes"] = changes.pop("capabilities")
        vehicle = services.update_vehicle(
            vehicle=vehicle, changes=changes, **self.partner_access.audit_actor
        )
        return Response(s.VehicleSerializer(vehicle).data)


UTILITY_PARAMETER = OpenApiParameter(
    "utility",
    str,
    description="Utility slug, when this vehicle_id is yours in several utilities.",
)


@extend_schema_view(
    retrieve=extend_schema(
        summary="One of your vehicles, by your vehicle_id",
        parameters=[UTILITY_PARAMETER],
        examples=[OpenApiExample("A vehicle", value=VEHICLE_ANSWER, response_only=True)],
    ),
    partial_update=extend_schema(
        summary="Update one of your vehicles, by your vehicle_id",
        parameters=[UTILITY_PARAMETER],
        request=s.VehicleUpdateSerializer,
        responses={200: s.VehicleSerializer, 409: OpenApiResponse(ERROR_REF)},
    ),
)
class VehicleByIdViewSet(VehicleViewSet):
    """The same vehicles, addressed by the partner's own id."""

    lookup_field = "vehicle_id"

    def get_object(self) -> Vehicle:
        vehicle_id = self.kwargs["vehicle_id"]
        if "\x00" in vehicle_id:  # the database refuses it; no vehicle has it
            raise services.UnknownVehicle("No such vehicle of yours here.")
        vehicles = partner_vehicles(self).filter(partner_vehicle_id=vehicle_id)
        if slug := self.request.query_params.get("utility"):
            vehicles = vehicles.filter(utility=self.get_utility(slug))
        return one_vehicle(vehicles)


# --- Telemetry ------------------------------------------------------------------------------

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
            f"Up to {telemetry.MAX_READINGS_PER_BATCH:,} readings. Valid readings are stored "
            "even when others are rejected; each rejected one comes back with its index and a "
            "stable code. Re-posting a reading (same vehicle and ts) stores nothing and counts "
            "it as a duplicate; late and out-of-order readings are accepted (up to "
            f"{telemetry.late_window().days} days old). A vehicle that is not yours, or not in "
            "a utility this client may act in, is unknown_vehicle."
        ),
        request=s.TelemetryBatchSerializer,
        responses={
            200: s.TelemetryResultSerializer,
            413: OpenApiResponse(
                ERROR_REF,
                description=f"batch_too_large: more than {telemetry.MAX_READINGS_PER_BATCH:,} "
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
        with telemetry.gc_paused():  # parsing 5,000 readings makes as many objects as storing
            return self._ingest(request)

    def _ingest(self, request):
        body = request.data
        readings = body.get("readings") if isinstance(body, dict) else None
        if not isinstance(readings, list):
            raise exceptions.ValidationError(
                {"readings": ["A list of readings is required."]}, code="required"
            )
        if len(readings) > telemetry.MAX_READINGS_PER_BATCH:
            raise DeviceAPIError(
                status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
                code="batch_too_large",
                message=f"At most {telemetry.MAX_READINGS_PER_BATCH} readings per request; "
                "nothing was stored. Split the batch.",
                details={"max_readings": telemetry.MAX_READINGS_PER_BATCH, "got": len(readings)},
            )
        result = telemetry.ingest(
            partner=request.partner,
            utility_ids=self.partner_access.utility_ids,
            readings=readings,
        )
        return Response(s.TelemetryResultSerializer(result).data)


# --- Commands -------------------------------------------------------------------------------

COMMAND_EXAMPLE = {
    "command_id": "5d0c8f0e-8a4b-5b8e-9f5e-1a2b3c4d5e6f",
    "utility": "pvp",
    "vehicle_id": "veh-8841",
    "vin": "1FTVW1EL7NWG00001",
    "kind": "discharge",
    "setpoint_kw": -7.2,
    "starts_at": "2026-07-02T00:00:00Z",
    "ends_at": "2026-07-02T03:00:00Z",
    "event_id": "evt-2026-07-01-peak",
    "revision": 0,
    "status": "sent",
}


class CommandPullView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["commands:read"]
    # Pulling hands commands over (they become sent): HEAD must not do that unseen.
    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="commands_pull",
        summary="Pull pending commands",
        description=(
            "Your oldest pending commands that have not ended yet, in the utilities where "
            "your agreement pulls (not where the portal pushes to your webhook). Each one "
            "returned is now sent, and is never returned again, to this or a concurrent "
            "pull: acknowledge it at /api/v1/commands/ack."
        ),
        parameters=[s.CommandPullQuerySerializer],
        responses={200: s.CommandPullSerializer},
        examples=[OpenApiExample("One command", value={"commands": [COMMAND_EXAMPLE]})],
    )
    def get(self, request):
        query = s.CommandPullQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        utility_ids = self.partner_access.utility_ids
        if slug := query.validated_data.get("utility"):
            utility_ids = [self.get_utility(slug).pk]
        commands = services.pull_commands(
            partner=request.partner,
            utility_ids=utility_ids,
            limit=query.validated_data["limit"],
            **self.partner_access.audit_actor,
        )
        return Response(s.CommandPullSerializer({"commands": commands}).data)


class CommandAckView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = ["commands:write"]

    @extend_schema(
        operation_id="commands_ack",
        summary="Acknowledge commands",
        description=(
            "Report what became of each command: accepted, rejected, completed or failed. "
            "Each acknowledgement gets its own result: unknown_command (not yours, or not in "
            "a utility this client may act in), invalid_transition (e.g. completed → "
            "accepted), or ok — repeating a status the command already has is ok and "
            "changes nothing."
        ),
        request=s.CommandAckSerializer,
        responses={200: s.CommandAckResultSerializer},
        examples=[
            OpenApiExample(
                "Accepted, then completed",
                value={
                    "acks": [
                        {"command_id": COMMAND_EXAMPLE["command_id"], "status": "accepted"},
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "status": "completed",
                            "at": "2026-07-02T03:00:05Z",
                        },
                    ]
                },
                request_only=True,
            ),
            OpenApiExample(
                "Results",
                value={
                    "results": [
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "ok": True,
                            "changed": True,
                            "status": "accepted",
                            "code": "",
                            "message": "",
                        },
                        {
                            "command_id": COMMAND_EXAMPLE["command_id"],
                            "ok": True,
                            "changed": True,
                            "status": "completed",
                            "code": "",
                            "message": "",
                        },
                    ]
                },
                response_only=True,
            ),
        ],
    )
    def post(self, request):
        serializer = s.CommandAckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        results = services.acknowledge_commands(
            partner=request.partner,
            utility_ids=self.partner_access.utility_ids,
            acks=[services.CommandAck(**ack) for ack in serializer.validated_data["acks"]],
            **self.partner_access.audit_actor,
        )
        return Response(s.CommandAckResultSerializer({"results": results}).data)


# --- Opt-outs -------------------------------------------------------------------------------


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
        opt_out, created = services.record_opt_out(
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


@extend_schema(
    summary="The driver's app preferences for one of your vehicles",
    description=(
        "Reserve (SoC % and/or miles, with miles per kWh), usual departure time (local to the "
        "premise) and target SoC. PUT replaces them: a field left out returns to its default. "
        "Dispatch never discharges below the reserve and keeps the departure target reachable."
    ),
    request=s.PreferenceSerializer,
    responses={200: s.PreferenceSerializer},
    examples=[
        OpenApiExample(
            "Keep 60 miles, leave at 07:30 with 90 %",
            value={
                "reserve_miles": 60,
                "miles_per_kwh": 2.4,
                "departure_time": "07:30",
                "target_soc_pct": 90,
            },
        )
    ],
)
class PreferenceView(DeviceAPIMixin, PartnerAPIView):
    required_scopes = {"GET": ["vehicles:read"], "PUT": ["vehicles:write"]}

    def _vehicle(self) -> Vehicle:
        try:
            vin = normalize_vin(self.kwargs["vin"])
        except InvalidVIN:
            raise services.UnknownVehicle("No such vehicle of yours here.") from None
        return one_vehicle(partner_vehicles(self).filter(vin=vin))

    def get(self, request, vin: str):
        vehicle = self._vehicle()
        preference = CustomerPreference.objects.filter(vehicle=vehicle).first()
        if preference is None:
            preference = CustomerPreference(vehicle=vehicle, utility=vehicle.utility)
        return Response(s.PreferenceSerializer(preference).data)

    def put(self, request, vin: str):
        vehicle = self._vehicle()
        serializer = s.PreferenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        preference = services.set_preferences(
            vehicle=vehicle, values=serializer.validated_data, **self.partner_access.audit_actor
        )
        return Response(s.PreferenceSerializer(preference).data)
