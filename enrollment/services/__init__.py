"""Enrollment writes: programs and their terms, submission (staff or partner), automatic
eligibility decisions, overrides, suspension, reinstatement, withdrawal, ending, the
waitlist, consent, bulk re-evaluation, consent expiry and partner offboarding.

Call these inside the utility's scope. ``**audit_actor`` is passed on to
``portal.audit.record``: ``actor=<user>``, or a partner client's ``client_id=…,
partner_name=…``; nothing means the system (a scheduled task).

One module per seam: ``errors`` (the refusals), ``decisions`` (locks, the decision after an
evaluation, moves, waitlist promotion, audit rows: what the others share), ``programs``,
``consent``, ``submission``, ``transitions`` (one enrollment's actions), ``reevaluation`` and
``offboarding``. Views, forms, the API and tasks call them as ``services.<name>``, so the
public names are re-exported here.
"""

from enrollment.services.consent import (
    DATA_SHARING_SCOPES,
    ConsentInput,
    expire_consents,
    renew_consent,
)
from enrollment.services.errors import (
    ConflictingEnrollment,
    EnrollmentConflict,
    EnrollmentError,
    EnrollmentNotFound,
    InvalidConsent,
    ProgramNotOpen,
    RulesFailed,
    StaleState,
    TransitionNotAllowed,
    UnknownProgram,
    UnknownVehicle,
    VehicleNotAtAccount,
)
from enrollment.services.offboarding import offboard_partner
from enrollment.services.programs import (
    add_terms_version,
    current_terms,
    program_snapshot,
    save_program,
)
from enrollment.services.reevaluation import reevaluate_accounts, reevaluate_program
from enrollment.services.submission import (
    replayed_submission,
    request_fingerprint,
    submit_enrollment,
)
from enrollment.services.transitions import (
    approve,
    bulk_review,
    end,
    override,
    reinstate,
    suspend,
    withdraw,
)

__all__ = [
    "ConflictingEnrollment",
    "ConsentInput",
    "DATA_SHARING_SCOPES",
    "EnrollmentConflict",
    "EnrollmentError",
    "EnrollmentNotFound",
    "InvalidConsent",
    "ProgramNotOpen",
    "RulesFailed",
    "StaleState",
    "TransitionNotAllowed",
    "UnknownProgram",
    "UnknownVehicle",
    "VehicleNotAtAccount",
    "add_terms_version",
    "approve",
    "bulk_review",
    "current_terms",
    "end",
    "expire_consents",
    "offboard_partner",
    "override",
    "program_snapshot",
    "reevaluate_accounts",
    "reevaluate_program",
    "reinstate",
    "renew_consent",
    "replayed_submission",
    "request_fingerprint",
    "save_program",
    "submit_enrollment",
    "suspend",
    "withdraw",
]
