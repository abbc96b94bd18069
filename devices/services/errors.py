"""The refusals of the device services, each with a stable code."""

from __future__ import annotations

from portal.errors import DomainError


class DeviceError(DomainError):
    """A refused device action."""


class DeviceNotFound(DeviceError):
    pass


class DeviceConflict(DeviceError):
    pass


class UnknownVehicle(DeviceNotFound):
    code = "unknown_vehicle"


class VinActiveElsewhere(DeviceConflict):
    code = "vin_active_elsewhere"


class VehicleExists(DeviceConflict):
    code = "vehicle_exists"


class AmbiguousVehicle(DeviceConflict):
    code = "ambiguous_vehicle"


class ReferenceConflict(DeviceConflict):
    code = "reference_conflict"
