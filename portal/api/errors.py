"""The partner API's one error shape, its stable codes and the exceptions views raise.

Every error from ``/api/`` — a DRF exception, a Django ``ValidationError`` from a service, an
``APIError`` raised by a view, an unknown path or a bug — becomes::

    {"error": {"code": "<ErrorCode>", "message": "...", "details": {...}, "request_id": "..."}}

Partners branch on ``code``, never on ``message``; a code, once published, never changes.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import set_rollback

from portal.request_context import get_request_id

logger = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    VALIDATION_FAILED = "validation_failed"
    MALFORMED_REQUEST = "malformed_request"
    NOT_AUTHENTICATED = "not_authenticated"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 - an error code, not a credential
    PARTNER_CLIENT_REQUIRED = "partner_client_required"
    INSUFFICIENT_SCOPE = "insufficient_scope"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    CONFLICT = "conflict"
    VIN_ACTIVE_ELSEWHERE = "vin_active_elsewhere"
    VEHICLE_EXISTS = "vehicle_exists"
    AMBIGUOUS_VEHICLE = "ambiguous_vehicle"
    UNKNOWN_VEHICLE = "unknown_vehicle"
    REFERENCE_CONFLICT = "reference_conflict"
    BATCH_TOO_LARGE = "batch_too_large"
    ACCOUNT_NOT_VERIFIED = "account_not_verified"
    UNKNOWN_PROGRAM = "unknown_program"
    INVALID_CONSENT = "invalid_consent"
    ENROLLMENT_CONFLICT = "enrollment_conflict"
    PROGRAM_NOT_OPEN = "program_not_open"
    VEHICLE_ACCOUNT_MISMATCH = "vehicle_account_mismatch"
    INVALID_TRANSITION = "invalid_transition"
    IDEMPOTENCY_CONFLICT = "idempotency_conflict"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    REQUEST_FAILED = "request_failed"
    INTERNAL_ERROR = "internal_error"


class APIError(exceptions.APIException):
    """Base for errors a partner endpoint raises on purpose. Subclasses fix the status and
    code; ``details`` carries machine-readable context (ids, allowed values, limits)."""

    status_code = status.HTTP_400_BAD_REQUEST
    code: ErrorCode = ErrorCode.REQUEST_FAILED
    default_detail = "The request could not be completed."

    def __init__(self, message: str | None = None, *, details: dict[str, Any] | None = None):
        super().__init__(message or self.default_detail, self.code)
        self.details = details or {}


class PartnerClientRequired(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    code = ErrorCode.PARTNER_CLIENT_REQUIRED
    default_detail = (
        "The partner API accepts only access tokens issued to a partner's API client "
        "(OAuth2 client credentials at /o/token/)."
    )


class InsufficientScope(APIError):
    status_code = status.HTTP_403_FORBIDDEN
    code = ErrorCode.INSUFFICIENT_SCOPE
    default_detail = "The access token lacks a scope this endpoint requires."


class ResourceNotFound(APIError):
    """Also the answer for objects outside the client's utilities: they do not exist for it."""

    status_code = status.HTTP_404_NOT_FOUND
    code = ErrorCode.NOT_FOUND
    default_detail = "Not found."


class PayloadTooLarge(APIError):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE: refused as soon as anything reads it (the token
    check may be first), never half-read."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = ErrorCode.PAYLOAD_TOO_LARGE
    default_detail = "The request body is too large."


class Conflict(APIError):
    """The request is valid but the object's current state does not allow it."""

    status_code = status.HTTP_409_CONFLICT
    code = ErrorCode.CONFLICT
    default_detail = "The request conflicts with the current state of the resource."


# DRF's own exceptions; anything else DRF raises is a generic ``request_failed``.
_DRF_CODES: tuple[tuple[type[exceptions.APIException], ErrorCode], ...] = (
    (exceptions.ValidationError, ErrorCode.VALIDATION_FAILED),
    (exceptions.ParseError, ErrorCode.MALFORMED_REQUEST),
    (exceptions.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.AuthenticationFailed, ErrorCode.INVALID_TOKEN),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED),
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, ErrorCode.NOT_ACCEPTABLE),
    (exceptions.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.Throttled, ErrorCode.RATE_LIMITED),
)

VALIDATION_MESSAGE = "Some fields are invalid; see details."
INTERNAL_ERROR_MESSAGE = (
    "An unexpected error occurred. It has been logged; quote the request id if you contact us."
)


def error_payload(
    code: ErrorCode, message: str, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "code": str(code),
            "message": message,
            "details": details or {},
            "request_id": get_request_id(),
        }
    }


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the error shape, never a bare 500."""
    request = context.get("request")
    if isinstance(exc, DjangoValidationError):
        # A service refused the input (model ``full_clean``): the client's fault, not ours.
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        # Django's message names the model ("No PartnerAgreement matches…"); say less.
        exc = ResourceNotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge(details={"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})

    if not isinstance(exc, exceptions.APIException):
        logger.exception("Unhandled error in API view", exc_info=exc)
        if request is not None:
            # Error reporting (and the test client) listen for this, as for any Django 500.
            got_request_exception.send(sender=None, request=request._request)
        set_rollback()
        return Response(
            error_payload(ErrorCode.INTERNAL_ERROR, INTERNAL_ERROR_MESSAGE),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    code, message, details = _describe(exc, request)
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(exc.wait)
    set_rollback()
    return Response(error_payload(code, message, details), status=exc.status_code, headers=headers)


def _describe(exc: exceptions.APIException, request) -> tuple[ErrorCode, str, dict[str, Any]]:
    if isinstance(exc, APIError):
        return exc.code, str(exc.detail), exc.details
    if isinstance(exc, exceptions.ValidationError):
        return ErrorCode.VALIDATION_FAILED, VALIDATION_MESSAGE, _field_errors(exc)
    if isinstance(exc, exceptions.Throttled):
        return ErrorCode.RATE_LIMITED, str(exc.detail), {"retry_after_seconds": exc.wait}
    if isinstance(exc, exceptions.NotAuthenticated):
        # OAuth2Authentication leaves why a presented token was refused on the request.
        oauth2_error = getattr(request, "oauth2_error", None) or {}
        if oauth2_error.get("error") == "invalid_token":
            return (
                ErrorCode.INVALID_TOKEN,
                str(oauth2_error.get("error_description") or "The access token is invalid."),
                {},
            )
    code = next(
        (code for cls, code in _DRF_CODES if isinstance(exc, cls)), ErrorCode.REQUEST_FAILED
    )
    return code, str(exc.detail), {}


def _field_errors(exc: exceptions.ValidationError) -> dict[str, Any]:
    """``{"field": [{"message", "code"}], ...}``; errors not tied to a field go under
    ``non_field_errors`` so details is always an object."""
    full = exc.get_full_details()
    if isinstance(full, dict):
        return full
    return {api_settings.NON_FIELD_ERRORS_KEY: full}
