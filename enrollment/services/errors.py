"""The refusals of enrollment's services, each with a stable code."""

from __future__ import annotations

from portal import transitions
from portal.errors import DomainError


class EnrollmentError(DomainError):
    """A refused enrollment action."""


class EnrollmentNotFound(EnrollmentError):
    code = "not_found"


class UnknownProgram(EnrollmentNotFound):
    code = "unknown_program"


class UnknownVehicle(EnrollmentNotFound):
    code = "unknown_vehicle"


class InvalidConsent(EnrollmentError):
    code = "invalid_consent"


class EnrollmentConflict(EnrollmentError):
    """Valid, but the current state of things does not allow it."""

    code = "conflict"


class ConflictingEnrollment(EnrollmentConflict):
    code = "enrollment_conflict"


class ProgramNotOpen(EnrollmentConflict):
    code = "program_not_open"


class VehicleNotAtAccount(EnrollmentConflict):
    code = "vehicle_account_mismatch"


class TransitionNotAllowed(EnrollmentConflict, transitions.TransitionNotAllowed):
    code = "invalid_transition"


class StaleState(EnrollmentConflict, transitions.StaleState):
    """The page was loaded when the enrollment was in another state."""

    code = "stale_state"


class RulesFailed(EnrollmentConflict):
    code = "rules_failed"


class IdempotencyConflict(EnrollmentConflict):
    code = "idempotency_conflict"
