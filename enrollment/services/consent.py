"""Consent: checking a customer's acceptance of a program's terms, recording a renewal (which
reinstates an enrollment suspended for want of it) and suspending enrollments whose consent
ran out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from enrollment.models import Consent, Enrollment, Program, TermsVersion
from enrollment.services.decisions import (
    EVALUATION_FIELDS,
    blocking_failures,
    bulk_move,
    evaluate,
    lock_enrollment,
    locked_enrollments,
    save_transition,
    store_evaluation,
)
from enrollment.services.errors import InvalidConsent, TransitionNotAllowed
from portal.audit import record

Status = Enrollment.Status
Cause = Enrollment.SuspensionCause

# What a partner may share, named the same way in the API and on the pages.
DATA_SHARING_SCOPES = {
    "telemetry": "Vehicle telemetry (state of charge, power, plugged in)",
    "charging_schedule": "Charging schedule and departure times",
    "location": "Vehicle location at home",
    "interval_usage": "Premise interval meter data",
}
# A consent time a little in the future is a partner's clock, not a lie.
CLOCK_SKEW = timedelta(minutes=5)
RENEWAL_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class ConsentInput:
    terms_version: TermsVersion
    accepted_at: datetime
    channel: str
    data_sharing_scope: Sequence[str] = ()


def check_consent(*, consent: ConsentInput, program: Program, now: datetime) -> datetime:
    """Raise ``InvalidConsent`` unless the consent is to this program's terms, accepted in
    the past, not expired already, with known sharing scopes; returns its expiry."""
    if consent.terms_version.program_id != program.pk:
        raise InvalidConsent("The terms version is not one of this program's.")
    if consent.accepted_at > now + CLOCK_SKEW:
        raise InvalidConsent("accepted_at is in the future.")
    unknown = sorted(set(consent.data_sharing_scope) - set(DATA_SHARING_SCOPES))
    if unknown:
        raise InvalidConsent(
            f"Unknown data sharing scope(s): {', '.join(unknown)}.",
            allowed=sorted(DATA_SHARING_SCOPES),
        )
    if consent.channel not in Enrollment.Channel.values:
        raise InvalidConsent(f"Unknown channel {consent.channel!r}.")
    expires_at = consent.accepted_at + timedelta(days=consent.terms_version.consent_valid_days)
    if expires_at <= now:
        raise InvalidConsent(
            "This consent has already expired; the customer must accept the terms again."
        )
    return expires_at


def create_consent(*, enrollment: Enrollment, consent: ConsentInput, expires_at: datetime):
    return Consent.objects.create(
        utility_id=enrollment.utility_id,
        enrollment=enrollment,
        terms_version=consent.terms_version,
        accepted_at=consent.accepted_at,
        channel=consent.channel,
        data_sharing_scope=sorted(set(consent.data_sharing_scope)),
        expires_at=expires_at,
    )


def has_current_consent(enrollment: Enrollment, *, now: datetime) -> bool:
    return Consent.objects.filter(
        enrollment=enrollment, revoked_at__isnull=True, expires_at__gt=now
    ).exists()


def current_consent_exists(now: datetime) -> Exists:
    return Exists(
        Consent.objects.filter(
            enrollment=OuterRef("pk"), revoked_at__isnull=True, expires_at__gt=now
        )
    )


def renew_consent(
    *, enrollment: Enrollment, consent: ConsentInput, now: datetime | None = None, **audit_actor
) -> Consent:
    """Record a renewed consent. An enrollment suspended because its consent expired is
    reinstated with it (if it still passes its rules; otherwise it stays suspended)."""
    now = now or timezone.now()
    with transaction.atomic():
        program, locked = lock_enrollment(enrollment.pk)
        if locked.status not in Enrollment.OPEN_STATES:
            raise TransitionNotAllowed(
                f"This enrollment is {locked.get_status_display().lower()}; "
                "a new enrollment is needed."
            )
        expires_at = check_consent(consent=consent, program=program, now=now)
        new = create_consent(enrollment=locked, consent=consent, expires_at=expires_at)
        record(
            action="enrollment.consent_recorded",
            utility=locked.utility,
            obj=locked,
            changes=consent_changes(new),
            **audit_actor,
        )
        if locked.status == Status.SUSPENDED and locked.suspension_cause == Cause.CONSENT_EXPIRED:
            evaluation = evaluate([locked])[0]
            store_evaluation(locked, evaluation, now=now)
            if blocking_failures(locked, evaluation):
                locked.save(update_fields=[*EVALUATION_FIELDS, "updated_at"])
            else:
                save_transition(
                    locked,
                    Status.ACTIVE,
                    action="enrollment.reinstated",
                    reason="Consent renewed.",
                    now=now,
                    extra_fields=EVALUATION_FIELDS,
                    **audit_actor,
                )
    return new


def consent_changes(consent: Consent) -> dict[str, Any]:
    return {
        "terms_version": consent.terms_version.version,
        "accepted_at": consent.accepted_at.isoformat(),
        "channel": consent.channel,
        "data_sharing_scope": consent.data_sharing_scope,
        "expires_at": consent.expires_at.isoformat(),
    }


def expire_consents(*, now: datetime | None = None) -> list[int]:
    """Suspend active enrollments (of the scope's utility) whose consent has run out: no
    consent that is neither revoked nor expired. Returns their ids."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            locked_enrollments()
            .filter(status=Status.ACTIVE)
            .exclude(current_consent_exists(now))
            .order_by("pk")
        )
        bulk_move(
            expired,
            Status.SUSPENDED,
            action="enrollment.consent_expired",
            reason="Consent expired; the customer must renew it.",
            cause=Cause.CONSENT_EXPIRED,
            now=now,
        )
    return [e.pk for e in expired]
