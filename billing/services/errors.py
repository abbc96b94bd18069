"""Refused settlement actions: one exception per reason, each with a stable code."""

from __future__ import annotations

from portal.errors import DomainError
from portal.transitions import StaleState, TransitionNotAllowed


class SettlementError(DomainError):
    code = "settlement_error"


class InvalidPeriod(SettlementError):
    code = "invalid_period"


class RunInProgress(SettlementError):
    code = "run_in_progress"


class SettlementStale(StaleState, SettlementError):
    pass


class SettlementTransitionNotAllowed(TransitionNotAllowed, SettlementError):
    pass


class FourEyes(SettlementError):
    """The approver reviewed the run themselves."""

    code = "four_eyes"


class RunIsExported(SettlementError):
    code = "run_exported"


class DisputeAlreadyOpen(SettlementError):
    code = "dispute_already_open"


class NothingToResume(SettlementError):
    code = "nothing_to_resume"
