"""Submission of an enrollment, by staff or by a partner (with an idempotency key): the
account check, the conflict check under the program lock, and the first decision.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_scopes import scopes_disabled

from enrollment import eligibility
from enrollment.eligibility import Rule
from enrollment.models import Enrollment, Program
from enrollment.services.consent import ConsentInput, check_consent, consent_changes, create_consent
from enrollment.services.decisions import decide_and_apply, lock_program
from enrollment.services.errors import (
    ConflictingEnrollment,
    IdempotencyConflict,
    ProgramNotOpen,
    UnknownVehicle,
    VehicleNotAtAccount,
)
from portal.audit import record
from portal.customers.models import ServiceAccount
from portal.models import AutomakerPartner

Status = Enrollment.Status

PARTNER_CHANNELS = (
    Enrollment.Channel.AUTOMAKER_APP,
    Enrollment.Channel.CHARGER_MARKETPLACE,
    Enrollment.Channel.INSTALLER,
)


def request_fingerprint(payload: Any) -> str:
    """A stable hash of a request body: key order and whitespace do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replayed_submission(
    *, partner: AutomakerPartner, idempotency_key: str, fingerprint: str, utility_ids: list[int]
) -> Enrollment | None:
    """The enrollment an earlier request with this key created, when the body is the same;
    ``IdempotencyConflict`` when the key was used for another body (or, which is the same
    to this client, in a utility it can no longer reach); None for a new key."""
    with scopes_disabled():  # explicitly this partner's own rows
        existing = (
            Enrollment.objects.filter(partner=partner, idempotency_key=idempotency_key)
            .select_related("program", "service_account", "vehicle", "utility")
            .first()
        )
    if existing is None:
        return None
    if existing.idempotency_fingerprint != fingerprint or existing.utility_id not in utility_ids:
        raise IdempotencyConflict(
            "This Idempotency-Key was already used for a different request.",
            enrollment_id=existing.pk if existing.utility_id in utility_ids else None,
        )
    return existing


def submit_enrollment(
    *,
    program: Program,
    account: ServiceAccount,
    vehicle,
    consent: ConsentInput,
    channel: str,
    partner: AutomakerPartner | None = None,
    idempotency_key: str = "",
    idempotency_fingerprint: str = "",
    now: datetime | None = None,
    **audit_actor: Any,
) -> tuple[Enrollment, bool]:
    """Enroll ``vehicle`` at ``account`` in ``program`` and decide at once: active, awaiting
    interconnection (only PTO missing), waitlisted (cap reached) or eligibility review (any
    other rule failed). A vehicle — or premise — already in this or a conflicting program is
    refused with ``ConflictingEnrollment`` and nothing is saved.

    Returns the enrollment and whether it was created: a partner retrying with the same
    idempotency key and body gets the first one back.
    """
    now = now or timezone.now()
    if program.status != Program.Status.OPEN:
        raise ProgramNotOpen(f"{program.name} is not open for enrollment.")
    if vehicle.status != vehicle.Status.ACTIVE or vehicle.utility_id != program.utility_id:
        raise UnknownVehicle("No such active vehicle here.")
    if partner is not None and vehicle.partner_id != partner.pk:
        raise UnknownVehicle("No such active vehicle of yours here.")
    if vehicle.service_account_id not in (None, account.pk):
        raise VehicleNotAtAccount("This vehicle is registered at another service account.")
    expires_at = check_consent(consent=consent, program=program, now=now)
    candidate = eligibility.Candidate(program=program, account=account, vehicle=vehicle)

    try:
        with transaction.atomic():
            program = lock_program(program.pk)
            if idempotency_key and partner is not None:
                # A retry that waited for the lock while the first request enrolled.
                existing = replayed_submission(
                    partner=partner,
                    idempotency_key=idempotency_key,
                    fingerprint=idempotency_fingerprint,
                    utility_ids=[program.utility_id],
                )
                if existing is not None:
                    return existing, False
            conflict = eligibility.evaluate_many([candidate])[0].failure(Rule.CONFLICTING_PROGRAMS)
            if conflict is not None:
                raise ConflictingEnrollment(conflict.detail)
            enrollment = Enrollment.objects.create(
                utility_id=program.utility_id,
                program=program,
                service_account=account,
                vehicle=vehicle,
                partner=partner,
                channel=channel,
                idempotency_key=idempotency_key,
                idempotency_fingerprint=idempotency_fingerprint if idempotency_key else "",
            )
            stored = create_consent(enrollment=enrollment, consent=consent, expires_at=expires_at)
            record(
                action="enrollment.submitted",
                utility=program.utility,
                obj=enrollment,
                to_state=Status.SUBMITTED,
                changes={
                    "program": program.slug,
                    "account_number": account.account_number,
                    "vin": vehicle.vin,
                    "channel": channel,
                    "consent": consent_changes(stored),
                },
                **audit_actor,
            )
            enrollment.program = program
            decide_and_apply(
                program, [enrollment], now=now, action="enrollment.evaluated", **audit_actor
            )
    except IntegrityError:
        # Someone else won a race: the same key (a retry) or the same vehicle and program.
        if idempotency_key and partner is not None:
            existing = replayed_submission(
                partner=partner,
                idempotency_key=idempotency_key,
                fingerprint=idempotency_fingerprint,
                utility_ids=[program.utility_id],
            )
            if existing is not None:
                return existing, False
        raise ConflictingEnrollment(
            "This vehicle already has an open enrollment in this program."
        ) from None
    return enrollment, True
