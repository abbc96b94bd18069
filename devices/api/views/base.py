"""What every device endpoint of the partner API shares: refusals of the device services
(``DeviceError``) in the one error shape with their stable codes, and finding the client's
partner's vehicles (anything else is answered exactly like something that does not exist).
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When
from rest_framework import status

from devices.models import Vehicle
from devices.services.errors import (
    AmbiguousVehicle,
    DeviceConflict,
    DeviceError,
    DeviceNotFound,
    UnknownVehicle,
)
from portal.api.errors import APIError

ERROR_REF = {"$ref": "#/components/schemas/Error"}


class DeviceAPIError(APIError):
    """A ``devices.services.errors.DeviceError`` (or a batch refusal) in the one error shape."""

    def __init__(self, *, status_code: int, code: str, message: str, details=None):
        self.status_code = status_code
        self.code = code  # type: ignore[assignment] - the devices' own stable codes
        super().__init__(message, details=details)

    @classmethod
    def from_domain(cls, error: DeviceError) -> DeviceAPIError:
        status_code = status.HTTP_400_BAD_REQUEST
        if isinstance(error, DeviceNotFound):
            status_code = status.HTTP_404_NOT_FOUND
        elif isinstance(error, DeviceConflict):
            status_code = status.HTTP_409_CONFLICT
        return cls(
            status_code=status_code, code=error.code, message=error.message, details=error.details
        )


class DeviceAPIMixin:
    def handle_exception(self, exc):
        if isinstance(exc, DeviceError):
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
        raise UnknownVehicle("No such vehicle of yours here.")
    if len(candidates) == 2 and candidates[1].status == Vehicle.Status.ACTIVE:
        raise AmbiguousVehicle(
            "This vehicle_id names vehicles in several utilities; give ?utility= or the vin."
        )
    return candidates[0]
