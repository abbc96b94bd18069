"""Vehicle endpoints of the partner API: register, list, read and update a vehicle (by VIN or
by the partner's vehicle id), and the driver's app preferences for it.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.response import Response

from devices.api import serializers as s
from devices.api.filters import VehicleAPIFilter
from devices.api.views.base import ERROR_REF, DeviceAPIMixin, one_vehicle, partner_vehicles
from devices.models import CustomerPreference, Vehicle
from devices.services.errors import UnknownVehicle
from devices.services.vehicles import register_vehicle, set_preferences, update_vehicle
from devices.vin import InvalidVIN, normalize_vin
from portal.api.base import PartnerAPIView, PartnerViewSet
from portal.api.customer_lookup import partner_lookup
from portal.customers.models import ServiceAccount

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
LINK_EXAMPLE = {"zip_code": "94110", "authorization_code": "7KQ2M-X9DHT"}


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
            OpenApiExample(
                "Registration", value={**VEHICLE_EXAMPLE, **LINK_EXAMPLE}, request_only=True
            ),
            OpenApiExample(
                "Registered", value=VEHICLE_ANSWER, response_only=True, status_codes=["201"]
            ),
        ],
        description="Field errors are validation_failed with a code per field, among them "
        "invalid_vin (the check digit is verified). Linking an account_number takes its "
        "zip_code and the customer's authorization_code (not needed again once accepted for "
        "your client): any mismatch is account_not_verified (400), repeated failures "
        "rate_limited (429).",
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
            OpenApiExample(
                "Link the customer's account",
                value={"account_number": "4400012345", **LINK_EXAMPLE},
                request_only=True,
            ),
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
            raise UnknownVehicle("No such vehicle of yours here.") from None
        return one_vehicle(partner_vehicles(self).filter(vin=vin))

    def create(self, request):
        serializer = s.VehicleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        utility = self.get_utility(data["utility"])
        vehicle = register_vehicle(
            utility=utility,
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
            service_account=self._account(utility, data),
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

    def _account(self, utility, data) -> ServiceAccount | None:
        """The account to link: none, or one whose customer authorized this partner."""
        if not data.get("account_number"):
            return None
        return partner_lookup(
            self.request,
            utility=utility,
            account_number=data["account_number"],
            zip_code=data["zip_code"],
            authorization_code=data.get("authorization_code", ""),
        )

    def partial_update(self, request, **kwargs):
        vehicle = self.get_object()
        serializer = s.VehicleUpdateSerializer(vehicle, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        if "capabilities" in changes:
            changes["modes"] = changes.pop("capabilities")
        link = {name: changes.pop(name, "") for name in ("zip_code", "authorization_code")}
        if "account_number" in changes:
            number = changes.pop("account_number") or None
            current = vehicle.service_account
            if current is None or number != current.account_number:
                changes["service_account"] = self._account(
                    vehicle.utility, {"account_number": number, **link}
                )
        vehicle = update_vehicle(
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
            raise UnknownVehicle("No such vehicle of yours here.")
        vehicles = partner_vehicles(self).filter(partner_vehicle_id=vehicle_id)
        if slug := self.request.query_params.get("utility"):
            vehicles = vehicles.filter(utility=self.get_utility(slug))
        return one_vehicle(vehicles)


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
            raise UnknownVehicle("No such vehicle of yours here.") from None
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
        preference = set_preferences(
            vehicle=vehicle, values=serializer.validated_data, **self.partner_access.audit_actor
        )
        return Response(s.PreferenceSerializer(preference).data)
