"""A circuit breaker per partner agreement, kept in its ``AdapterConfig`` row so every worker
process sees and moves the same circuit.

closed ──N consecutive failures──▶ open ──cool-down over──▶ half-open (one trial call)
half-open ──trial succeeds──▶ closed;  half-open ──trial fails──▶ open (cool-down again)

Every move is a compare-and-set ``UPDATE … WHERE state = <expected>``: when two workers race,
exactly one update matches, and only that worker records the transition (an audit row). A
partner that answers at all — even 4xx — is reachable: that closes the circuit too, since the
circuit protects against partners that are down, not against requests they refuse.

While half-open, ``circuit_opened_at`` is when the trial began: a trial whose worker died
without reporting is taken over by the next caller once a cool-down has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Q

from devices.adapters import conf
from devices.models import AdapterConfig
from portal import audit

Circuit = AdapterConfig.Circuit


@dataclass(frozen=True)
class Permit:
    allowed: bool
    trial: bool = False  # this call decides a half-open circuit
    retry_at: datetime | None = None  # when refused: the end of the cool-down, or None
    # while another caller's trial decides


def acquire(config: AdapterConfig, *, now: datetime) -> Permit:
    """May a call to this partner go out now?"""
    row = (
        AdapterConfig.objects.filter(pk=config.pk)
        .values("circuit_state", "circuit_opened_at")
        .get()
    )
    state, since = row["circuit_state"], row["circuit_opened_at"]
    if state == Circuit.CLOSED:
        return Permit(allowed=True)
    cool_down = timedelta(seconds=conf.circuit_cool_down_seconds())
    ready_at = (since or now) + cool_down
    if now < ready_at:
        # Open: wait for the cool-down. Half-open: a trial is under way.
        return Permit(allowed=False, retry_at=ready_at if state == Circuit.OPEN else None)
    won = AdapterConfig.objects.filter(
        pk=config.pk, circuit_state=state, circuit_opened_at=since
    ).update(circuit_state=Circuit.HALF_OPEN, circuit_opened_at=now)
    if not won:  # another worker took the trial; its outcome decides what happens next
        return Permit(allowed=False)
    if state == Circuit.OPEN:
        _record(config, from_state=state, to_state=Circuit.HALF_OPEN, comment="Cool-down over.")
    return Permit(allowed=True, trial=True)


def record_success(config: AdapterConfig, *, now: datetime) -> None:
    _close(config, now=now, comment="The partner answered.")
    AdapterConfig.objects.filter(pk=config.pk).update(consecutive_failures=0, last_success_at=now)


def record_refusal(config: AdapterConfig, *, now: datetime, error: str) -> None:
    """The partner answered but refused (4xx): reachable, so the circuit closes; the call
    still failed."""
    _close(config, now=now, comment=f"The partner answered: {error}")
    AdapterConfig.objects.filter(pk=config.pk).update(consecutive_failures=0, last_failure_at=now)


def record_failure(config: AdapterConfig, *, now: datetime, error: str) -> None:
    AdapterConfig.objects.filter(pk=config.pk).update(
        consecutive_failures=F("consecutive_failures") + 1, last_failure_at=now
    )
    threshold = conf.circuit_failure_threshold()
    for from_state, condition in (
        (Circuit.HALF_OPEN, Q()),
        (Circuit.CLOSED, Q(consecutive_failures__gte=threshold)),
    ):
        opened = AdapterConfig.objects.filter(
            condition, pk=config.pk, circuit_state=from_state
        ).update(circuit_state=Circuit.OPEN, circuit_opened_at=now)
        if opened:
            _record(config, from_state=from_state, to_state=Circuit.OPEN, comment=error)
            return


def _close(config: AdapterConfig, *, now: datetime, comment: str) -> None:
    for from_state in (Circuit.HALF_OPEN, Circuit.OPEN):
        closed = AdapterConfig.objects.filter(pk=config.pk, circuit_state=from_state).update(
            circuit_state=Circuit.CLOSED, circuit_opened_at=None, consecutive_failures=0
        )
        if closed:
            _record(config, from_state=from_state, to_state=Circuit.CLOSED, comment=comment)
            return


def _record(config: AdapterConfig, *, from_state: str, to_state: str, comment: str) -> None:
    audit.record(
        action="adapter.circuit_changed",
        utility=config.utility,
        obj=config,
        from_state=from_state,
        to_state=to_state,
        comment=comment[:500],
    )
