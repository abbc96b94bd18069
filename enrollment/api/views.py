"""Enrollment endpoints of the partner API.

A partner enrolls its customer (``POST /api/v1/enrollments``), reads status and the reasons
behind it, withdraws, and renews consent. Each view runs inside the scope of the utilities
the client may act in and sees only its own partner's enrollments there: anything else is
answered exactly like something that does not exist.

Partners learn about status changes by pulling: ``GET /api/v1/enrollments?changed_since=``
returns what changed since a time, oldest change first (every change, by staff, a task or
the partner, moves ``updated_at``). That needs no endpoint of theirs, cannot lose a change
while they are down, and is the same for every partner.

Refusals of ``enrollment.services`` (``EnrollmentError``) become the one error shape here,
with their stable codes.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from devices.models import Vehicle
from enrollment import selectors, services
from enrollment.api import serializers as s
from enrollment.filters import EnrollmentAPIFilter
from enrollment.models import Enrollment, Program, TermsVersion
from portal.api.base import PartnerViewSet
from portal.api.customer_lookup import partner_lookup
from portal.api.errors import APIError

ERROR_REF = {"$ref": "#/components/schemas/Error"}
IDEMPOTENCY_HEADER = "Idempotency-Key"


class EnrollmentAPIError(APIError):
    """An ``enrollment.services.EnrollmentError`` in the one error shape."""

    def __init__(self, *, status_code: int, code: str, message: str, details=None):
        self.status_code = status_code
        self.code = code  # type: ignore[assignment] - enrollment's own stable codes
        super().__init__(message, details=details)

    @classmethod
    def from_domain(cls, error: services.EnrollmentError) -> EnrollmentAPIError:
        status_code = status.HTTP_400_BAD_REQUEST
        if isinstance(error, services.EnrollmentNotFound):
            status_code = status.HTTP_404_NOT_FOUND
        elif isinstance(error, services.EnrollmentConflict):
            status_code = status.HTTP_409_CONFLICT
        details = {k: v for k, v in error.details.items() if v is not None}
        return cls(status_code=status_code, code=error.code, message=error.message, details=details)


# --- Examples -------------------------------------------------------------------------------

SUBMISSION_EXAMPLE = {
    "utility": "pvp",
    "program": "summer-v2h",
    "account_number": "4400012345",
    "zip_code": "94110",
    "authorization_code": "7KQ2M-X9DHT",
    "vehicle": {"vin": "1FTVW1EL0NWG00001"},
    "consent": {
        "terms_version": "2026.1",
        "accepted_at": "2026-07-01T17:00:00Z",
        "channel": "automaker_app",
        "data_sharing_scope": ["telemetry", "charging_schedule"],
    },
}
CONSENT_EXAMPLE = {
    "terms_version": "2026.1",
    "accepted_at": "2026-07-01T17:00:00Z",
    "expires_at": "2027-07-01T17:00:00Z",
    "revoked_at": None,
    "channel": "automaker_app",
    "data_sharing_scope": ["charging_schedule", "telemetry"],
}
ENROLLMENT_EXAMPLE = {
    "id": 8812,
    "utility": "pvp",
    "program": "summer-v2h",
    "program_name": "Summer V2H",
    "status": "awaiting_interconnection",
    "status_reason": "Waiting for interconnection PTO.",
    "account_number": "4400012345",
    "vehicle": {"vin": "1FTVW1EL0NWG00001", "vehicle_id": "veh-8841"},
    "eligibility": [
        {"rule": "territory", "passed": True, "detail": "ZIP 94110 is in the service territory."},
        {
            "rule": "permission_to_operate",
            "passed": False,
            "detail": "Interconnection permission to operate is not yet granted.",
        },
    ],
    "failed_rules": ["permission_to_operate"],
    "consent": CONSENT_EXAMPLE,
    "submitted_at": "2026-07-01T17:00:02Z",
    "waitlisted_at": None,
    "activated_at": None,
    "ended_at": None,
    "updated_at": "2026-07-01T17:00:02Z",
}
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description=(
        "Your unique key for this submission (at most 100 characters). Retrying with the same "
        "key and body answers 200 with the enrollment the first request created; the same "
        "key with another body is 409 idempotency_conflict."
    ),
)


@extend_schema_view(
    list=extend_schema(
        summary="List your enrollments (and pull status changes)",
        description=(
            "Your enrollments in the utilities this client may act in, newest first. With "
            "`changed_since`, only those changed at or after that time, oldest change first: "
            "poll with the largest `updated_at` you have seen (rows at exactly that time come "
            "again; skip the (id, updated_at) pairs you already have). This is how partners "
            "learn of status changes made by the utility's staff or its scheduled checks."
        ),
        examples=[
            OpenApiExample(
                "A page",
                value={"count": 1, "next": None, "previous": None, "results": [ENROLLMENT_EXAMPLE]},
                response_only=True,
            )
        ],
    ),
    retrieve=extend_schema(
        summary="One of your enrollments",
        examples=[OpenApiExample("Enrollment", value=ENROLLMENT_EXAMPLE, response_only=True)],
    ),
    create=extend_schema(
        summary="Enroll a customer's vehicle in a program",
        description=(
            "Checks your vehicle (`unknown_vehicle`), the customer's authorization (account "
            "number and ZIP code must match, and either the vehicle is already linked to that "
            "account, your client already presented a valid `authorization_code` for it, or "
            "this request does; any mismatch is `account_not_verified`, the same whichever "
            "value is wrong, and repeated failures are `rate_limited` for a while), "
            "(`unknown_vehicle`), the consent (`invalid_consent`), and refuses a vehicle — or "
            "premise, where the program allows one per premise — already in this or a "
            "conflicting program (`enrollment_conflict`). The enrollment is then evaluated at "
            "once: `active`, `awaiting_interconnection` (only interconnection PTO missing), "
            "`waitlisted` (the program is full) or `eligibility_review` (`failed_rules` says "
            "why; staff decide)."
        ),
        parameters=[IDEMPOTENCY_PARAMETER],
        request=s.EnrollmentCreateSerializer,
        responses={
            201: s.EnrollmentSerializer,
            200: OpenApiResponse(s.EnrollmentSerializer, description="A retry: the original."),
            400: OpenApiResponse(
                ERROR_REF,
                description="validation_failed, account_not_verified, invalid_consent.",
            ),
            404: OpenApiResponse(
                ERROR_REF,
                description="not_found (utility), unknown_program, unknown_vehicle.",
            ),
            409: OpenApiResponse(
                ERROR_REF,
                description="enrollment_conflict, program_not_open, vehicle_account_mismatch, "
                "idempotency_conflict.",
            ),
        },
        examples=[
            OpenApiExample("Submission", value=SUBMISSION_EXAMPLE, request_only=True),
            OpenApiExample(
                "Evaluated", value=ENROLLMENT_EXAMPLE, response_only=True, status_codes=["201"]
            ),
            OpenApiExample(
                "Account not verified",
                value={
                    "error": {
                        "code": "account_not_verified",
                        "message": "The account number, ZIP code and customer authorization "
                        "code do not match an authorization for you.",
                        "details": {},
                        "request_id": "3f0c9e0e6f2c4d4b",
                    }
                },
                response_only=True,
                status_codes=["400"],
            ),
        ],
    ),
    withdraw=extend_schema(
        summary="Withdraw an enrollment (the customer opted out of the program)",
        description="Withdrawing again answers 200 with the enrollment as it is.",
        request=s.WithdrawSerializer,
        responses={200: s.EnrollmentSerializer, 409: OpenApiResponse(ERROR_REF)},
        examples=[
            OpenApiExample(
                "Reason",
                value={"reason": "Customer left the program in the app."},
                request_only=True,
            )
        ],
    ),
    consent=extend_schema(
        summary="Record a renewed consent",
        description=(
            "Before a consent expires the customer renews it; an enrollment suspended because "
            "its consent expired becomes active again (if it still passes its rules)."
        ),
        request=s.ConsentInputSerializer,
        responses={
            201: s.EnrollmentSerializer,
            400: OpenApiResponse(ERROR_REF),
            409: OpenApiResponse(ERROR_REF),
        },
        examples=[
            OpenApiExample("Renewal", value=SUBMISSION_EXAMPLE["consent"], request_only=True)
        ],
    ),
)
class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, PartnerViewSet):
    required_scopes = {"GET": ["enrollments:read"], "POST": ["enrollments:write"]}
    serializer_class = s.EnrollmentSerializer
    filterset_class = EnrollmentAPIFilter

    def handle_exception(self, exc):
        if isinstance(exc, services.EnrollmentError):
            exc = EnrollmentAPIError.from_domain(exc)
        return super().handle_exception(exc)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Enrollment.objects.none()
        enrollments = selectors.partner_enrollments(partner=self.request.partner)
        if self.request.query_params.get("changed_since"):
            enrollments = enrollments.order_by("updated_at", "id")
        return enrollments

    def get_object(self) -> Enrollment:
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "consents": getattr(self, "_consents", {})}

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        self._consents = selectors.latest_consents([e.pk for e in page or []])
        return page

    def _answer(self, enrollment: Enrollment, status_code: int) -> Response:
        self._consents = selectors.latest_consents([enrollment.pk])
        return Response(self.get_serializer(enrollment).data, status=status_code)

    def retrieve(self, request, *args, **kwargs):
        return self._answer(self.get_object(), status.HTTP_200_OK)

    def create(self, request):
        key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
        if not key or len(key) > 100:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: ["Send a unique Idempotency-Key header of 1–100 characters."]}
            )
        serializer = s.EnrollmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # The code is single-use and secret: not part of what a retry must repeat.
        fingerprint = services.request_fingerprint(
            {name: value for name, value in data.items() if name != "authorization_code"}
        )
        replay = services.replayed_submission(
            partner=request.partner,
            idempotency_key=key,
            fingerprint=fingerprint,
            utility_ids=self.partner_access.utility_ids,
        )
        if replay is not None:
            return self._answer(replay, status.HTTP_200_OK)

        utility = self.get_utility(data["utility"])
        program = Program.objects.filter(utility=utility, slug=data["program"]).first()
        if program is None:
            raise services.UnknownProgram("No such program in this utility.")
        vehicle = self._vehicle(utility, data["vehicle"])
        account = partner_lookup(
            request,
            utility=utility,
            account_number=data["account_number"],
            zip_code=data["zip_code"],
            authorization_code=data["authorization_code"],
            # Linking the vehicle to the account took the customer's authorization already.
            related=lambda account: vehicle.service_account_id == account.pk,
        )
        enrollment, created = services.submit_enrollment(
            program=program,
            account=account,
            vehicle=vehicle,
            consent=self._consent(program, data["consent"]),
            channel=data["consent"]["channel"],
            partner=request.partner,
            idempotency_key=key,
            idempotency_fingerprint=fingerprint,
            **self.partner_access.audit_actor,
        )
        return self._answer(enrollment, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        body = s.WithdrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrollment, _ = services.withdraw(
            enrollment=self.get_object(),
            reason=body.validated_data["reason"] or "Withdrawn in the automaker's app.",
            **self.partner_access.audit_actor,
        )
        return self._answer(enrollment, status.HTTP_200_OK)

    @action(detail=True, methods=["post"])
    def consent(self, request, pk=None):
        body = s.ConsentInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        enrollment = self.get_object()
        services.renew_consent(
            enrollment=enrollment,
            consent=self._consent(enrollment.program, body.validated_data),
            **self.partner_access.audit_actor,
        )
        enrollment.refresh_from_db()
        return self._answer(enrollment, status.HTTP_201_CREATED)

    def _vehicle(self, utility, ref: dict) -> Vehicle:
        vehicles = Vehicle.objects.filter(
            utility=utility, partner=self.request.partner, status=Vehicle.Status.ACTIVE
        )
        if "vin" in ref:
            vehicles = vehicles.filter(vin=ref["vin"])
        else:
            vehicles = vehicles.filter(partner_vehicle_id=ref["vehicle_id"])
        vehicle = vehicles.first()
        if vehicle is None:
            raise services.UnknownVehicle("No such active vehicle of yours in this utility.")
        return vehicle

    def _consent(self, program: Program, data: dict) -> services.ConsentInput:
        terms = TermsVersion.objects.filter(program=program, version=data["terms_version"]).first()
        if terms is None:
            raise services.InvalidConsent("The program has no terms with this version.")
        return services.ConsentInput(
            terms_version=terms,
            accepted_at=data["accepted_at"],
            channel=data["channel"],
            data_sharing_scope=data["data_sharing_scope"],
        )
