"""The refused incentive actions: one exception per reason, each with its stable code."""

from __future__ import annotations

from enrollment.incentives.models import Dispute
from portal.errors import DomainError


class IncentiveError(DomainError):
    """A refused incentive action."""

    code = "incentive_error"


class InvalidInput(IncentiveError):
    code = "invalid_input"


class InvalidDocument(IncentiveError):
    code = "invalid_document"


class NotEligible(IncentiveError):
    code = "not_eligible"


class AlreadyClaimed(IncentiveError):
    """The same offer, enrollment and period already has an incentive, from other inputs."""

    code = "already_claimed"


class AlreadyDecided(IncentiveError):
    """Someone decided first (or a double click): nothing was changed."""

    code = "already_decided"


class BudgetExhausted(IncentiveError):
    code = "budget_exhausted"


class LedgerConflict(IncentiveError):
    code = "ledger_conflict"


class NothingToPay(IncentiveError):
    code = "nothing_to_pay"


class BatchNotReady(IncentiveError):
    code = "batch_not_ready"


class DisputeAlreadyOpen(IncentiveError):
    code = "dispute_already_open"

    def __init__(self, message: str, *, dispute: Dispute):
        super().__init__(message, dispute_id=dispute.pk)
        self.dispute = dispute
