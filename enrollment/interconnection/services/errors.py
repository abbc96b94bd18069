"""The refused interconnection actions: one exception per reason, each with its stable code."""

from __future__ import annotations

from portal import transitions
from portal.errors import DomainError


class InterconnectionError(DomainError):
    """A refused interconnection action."""


class TransitionNotAllowed(InterconnectionError, transitions.TransitionNotAllowed):
    code = "invalid_transition"


class StaleState(InterconnectionError, transitions.StaleState):
    """The page was loaded before someone (or an earlier click) moved the application."""

    code = "stale_state"


class ChecklistIncomplete(InterconnectionError):
    code = "checklist_incomplete"


class InvalidInput(InterconnectionError):
    code = "invalid_input"


class InspectionDateNeeded(InvalidInput):
    """A pass recorded before the scheduled day, or a date that is not possible."""

    code = "inspection_date_needed"
