"""Incentive writes, one module per area: calculations (pure), documents, the ledger and the
approval queue, awards (offers and applications), disputes and payouts. Import them from
here.

Call these inside the utility's scope. Every write that touches a program's money locks the
program row first (``ledger.lock_program``) and only then reads the budget from the ledger.
"""

from enrollment.incentives.services.awards import (
    OFFER_FIELDS,
    award_capacity,
    award_enrollment_bonus,
    award_event_performance,
    award_monthly_credit,
    month_period,
    offer_terms,
    save_offer,
    submit_charger_rebate,
)
from enrollment.incentives.services.calculations import (
    Amount,
    as_decimal,
    capacity_payment,
    charger_rebate,
    dollars,
    enrollment_bonus,
    event_performance,
    monthly_credit,
    season_label,
    to_cents,
)
from enrollment.incentives.services.disputes import open_dispute, resolve_dispute
from enrollment.incentives.services.documents import (
    MAX_DOCUMENT_BYTES,
    check_document,
    store_document,
)
from enrollment.incentives.services.errors import (
    AlreadyClaimed,
    AlreadyDecided,
    BatchNotReady,
    BudgetExhausted,
    DisputeAlreadyOpen,
    IncentiveError,
    InvalidDocument,
    InvalidInput,
    LedgerConflict,
    NotEligible,
    NothingToPay,
)
from enrollment.incentives.services.ledger import (
    approve_incentive,
    promote_waitlist,
    reject_incentive,
    reverse_entry,
)
from enrollment.incentives.services.payouts import (
    check_ach_reference,
    create_payout_batch,
    export_payout_file,
    mark_batch_paid,
    payout_file,
    set_payout_preference,
)

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "OFFER_FIELDS",
    "AlreadyClaimed",
    "AlreadyDecided",
    "Amount",
    "BatchNotReady",
    "BudgetExhausted",
    "DisputeAlreadyOpen",
    "IncentiveError",
    "InvalidDocument",
    "InvalidInput",
    "LedgerConflict",
    "NotEligible",
    "NothingToPay",
    "approve_incentive",
    "as_decimal",
    "award_capacity",
    "award_enrollment_bonus",
    "award_event_performance",
    "award_monthly_credit",
    "capacity_payment",
    "charger_rebate",
    "check_ach_reference",
    "check_document",
    "create_payout_batch",
    "dollars",
    "enrollment_bonus",
    "event_performance",
    "export_payout_file",
    "mark_batch_paid",
    "month_period",
    "monthly_credit",
    "offer_terms",
    "open_dispute",
    "payout_file",
    "promote_waitlist",
    "reject_incentive",
    "resolve_dispute",
    "reverse_entry",
    "save_offer",
    "season_label",
    "set_payout_preference",
    "store_document",
    "submit_charger_rebate",
    "to_cents",
]
