"""The one interface every partner adapter implements, and the normalized types it speaks.

The rest of the portal talks in ``OutgoingCommand`` and the verdicts below; an adapter
translates them at the edge (HTTP, a partner's units and field names) and never decides a
command's status itself — ``devices.adapters.delivery`` does that from the verdicts.

Verdicts of ``send``:

* ``ACCEPTED`` / ``REJECTED`` — the partner's answer for that command (rejected: ``reason``).
* ``RETRY`` — no definitive answer (timeout, connection error, 5xx, a response that is not
  valid or leaves the command out, circuit open). Safe to send again: the command id is the
  command's idempotency key, so a receiver that already acted answers its earlier result.
* ``FAILED`` — the partner refused the request itself (4xx): sending it again would be
  refused again.
* ``QUEUED`` — nothing was sent; the command waits for the partner to pull it.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from devices.models import AdapterConfig, DeviceCommand


class AdapterError(Exception):
    """Base of the adapters' own errors."""


class EndpointNotAllowed(AdapterError):
    """The configured endpoint is not a host the portal may call."""


class NotSupported(AdapterError):
    """The adapter lacks the capability asked for."""


class Verdict(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRY = "retry"
    FAILED = "failed"
    QUEUED = "queued"


class CancelVerdict(enum.StrEnum):
    CANCELLED = "cancelled"  # the partner cancelled it
    UNKNOWN = "unknown"  # the partner never had it: nothing to cancel there
    NOT_CANCELLABLE = "not_cancellable"  # out of our hands (e.g. a pull partner holds it)
    RETRY = "retry"  # no definitive answer; ask again


@dataclass(frozen=True)
class Capabilities:
    pushes: bool  # the portal delivers commands (webhook); otherwise the partner pulls
    cancels: bool  # the partner can be asked to cancel a command it holds
    reports_status: bool  # ``pull_status`` asks the partner for a command's status
    max_batch_size: int


def wire_time(value: datetime) -> str:
    """UTC with a ``Z``, to the second: what the protocol puts on the wire."""
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class OutgoingCommand:
    """A command as partners see it. ``command_id`` is the command's idempotency key."""

    pk: int
    command_id: str
    vehicle_id: str
    vin: str
    kind: str
    setpoint_kw: float
    starts_at: datetime
    ends_at: datetime
    event_id: str = ""  # the event it serves, for the partner's opt-outs

    @classmethod
    def from_model(cls, command: DeviceCommand) -> OutgoingCommand:
        return cls(
            pk=command.pk,
            command_id=command.idempotency_key,
            vehicle_id=command.vehicle.partner_vehicle_id,
            vin=command.vehicle.vin,
            kind=command.kind,
            setpoint_kw=command.setpoint_kw,
            starts_at=command.starts_at,
            ends_at=command.ends_at,
            event_id=command.source_id,
        )

    def to_wire(self) -> dict:
        return {
            "command_id": self.command_id,
            "vehicle_id": self.vehicle_id,
            "vin": self.vin,
            "kind": self.kind,
            "setpoint_kw": self.setpoint_kw,
            "starts_at": wire_time(self.starts_at),
            "ends_at": wire_time(self.ends_at),
            "event_id": self.event_id,
        }


@dataclass(frozen=True)
class CommandOutcome:
    command_id: str
    verdict: Verdict
    reason: str = ""


@dataclass(frozen=True)
class SendResult:
    outcomes: dict[str, CommandOutcome]  # by command id, one for every command sent
    error: str = ""  # what went wrong with the call as a whole, if anything
    circuit_open: bool = False  # the call was skipped: the partner's circuit is open
    # When a skipped call may be tried: the end of the cool-down; None while another
    # worker's half-open trial decides.
    retry_at: datetime | None = None

    @classmethod
    def for_all(
        cls, batch: Sequence[OutgoingCommand], verdict: Verdict, reason: str = "", **kwargs
    ) -> SendResult:
        return cls(
            outcomes={c.command_id: CommandOutcome(c.command_id, verdict, reason) for c in batch},
            **kwargs,
        )

    def ids(self, verdict: Verdict) -> list[str]:
        return [o.command_id for o in self.outcomes.values() if o.verdict == verdict]


@dataclass(frozen=True)
class CancelOutcome:
    command_id: str
    verdict: CancelVerdict
    reason: str = ""


@dataclass(frozen=True)
class StatusReport:
    command_id: str
    status: str  # the partner's word: accepted, rejected, completed, failed, unknown, …
    reason: str = ""


class Adapter(ABC):
    """One partner agreement's channel. Build it with ``devices.adapters.registry``."""

    kind: ClassVar[str]

    def __init__(self, config: AdapterConfig):
        self.config = config

    @property
    @abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abstractmethod
    def send(self, batch: Sequence[OutgoingCommand]) -> SendResult:
        """Deliver at most ``capabilities.max_batch_size`` commands; one verdict each."""

    @abstractmethod
    def cancel(self, batch: Sequence[OutgoingCommand]) -> dict[str, CancelOutcome]:
        """Ask the partner to cancel commands it already holds; one outcome each."""

    def pull_status(self, command: OutgoingCommand) -> StatusReport:
        """The partner's view of one command, where it can tell (``reports_status``)."""
        raise NotSupported(f"The {self.kind} adapter cannot ask a partner for a status.")
