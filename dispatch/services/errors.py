"""The refusals of dispatch's writes: one hierarchy under ``EventError`` (events, their
targets, grid signal sources) and ``GroupError`` (dispatch groups)."""

from __future__ import annotations

from collections.abc import Sequence

from dispatch import guardrails
from dispatch.guardrails import RuleResult
from portal.errors import DomainError


class EventError(DomainError):
    code = "event_refused"


class GuardrailsFailed(EventError):
    code = "event_guardrails_failed"

    def __init__(self, results: Sequence[RuleResult]):
        self.results = list(results)
        failed = guardrails.failures(self.results)
        super().__init__(
            "The event breaks the program's rules: " + " ".join(r.message for r in failed),
            rules=[r.rule for r in failed],
        )


class StaleEvent(EventError):
    code = "event_stale"


class TargetingError(EventError):
    """The event's targets are refused; ``details["field"]`` names the form field at fault
    (``targeting``, ``groups``, ``feeders`` or ``vehicles``)."""

    code = "event_targets_refused"


class GroupError(DomainError):
    """A dispatch group change is refused; ``details["field"]`` names the field at fault."""

    code = "dispatch_group_refused"


class SourceError(EventError):
    """A grid signal source or route change is refused."""

    code = "grid_source_refused"
