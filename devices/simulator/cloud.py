"""The automaker cloud the simulator pretends to be: it receives signed command batches (or
pulls commands), decides per command, runs the fleet, and queues what it reports back to the
portal (acknowledgements, telemetry, opt-outs) in an ``Outbox``.

No HTTP here either: ``server`` turns requests into ``handle_*`` calls and ``Reply`` objects
into responses; ``runtime`` drives ``tick`` and drains the outbox. Each request and tick
holds the cloud's lock, so the fleet only ever sees one thread.

Decisions that involve chance (reject, opt out) come from ``random.Random(f"{seed}:{id}")``:
the same seed and command always decide the same way, whatever the order of arrival.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from devices.adapters.base import wire_time
from devices.adapters.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayGuard,
    SignatureError,
    verify,
)
from devices.simulator.fleet import Command, CommandEvent, CommandStatus, Kind
from devices.simulator.state import AgreementSim, Behaviour, Faults, Outbox, Reply

REJECT_REASONS = ("customer_override", "vehicle_asleep", "charger_offline", "low_battery")
MAX_BATCH = 5000
# How long a finished command's answer is remembered for repeats. The portal re-sends only
# within minutes (lost answers), and never once a window is over.
ANSWER_RETENTION_SECONDS = 2 * 24 * 3600


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class FleetCloud:
    def __init__(
        self,
        agreements: Iterable[AgreementSim],
        *,
        behaviour: Behaviour | None = None,
        outbox: Outbox | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.agreements = list(agreements)
        self.behaviour = behaviour or Behaviour()
        self.faults = Faults()
        self.outbox = outbox or Outbox()
        self.clock = clock
        self.replay_guard = ReplayGuard()
        self.lock = threading.RLock()
        self.requests: Counter = Counter()  # requests received, by kind
        self._chance = random.Random(self.behaviour.seed)  # request-level faults only

    # --- Requests from the portal -----------------------------------------------------------

    def handle_commands(self, partner: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self._count("commands")
        fault = self._request_fault()
        if fault is not None:
            return fault
        agreement, error = self._authenticate(partner, headers, body)
        if agreement is None:
            return error
        payload = _json(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("commands"), list):
            return _error(400, "malformed_request", 'The body needs a "commands" list.')
        if payload.get("utility") != agreement.utility:
            return _error(400, "utility_mismatch", "The batch names another utility.")
        if len(payload["commands"]) > MAX_BATCH:
            return _error(413, "batch_too_large", f"At most {MAX_BATCH} commands per batch.")
        with self.lock:
            results = self.receive(agreement, payload["commands"])
            delay = self.faults.answer_delay_seconds
        reply = self._answer(results)
        reply.delay_seconds = delay
        return reply

    def handle_cancel(self, partner: str, headers: Mapping[str, str], body: bytes) -> Reply:
        self._count("cancel")
        fault = self._request_fault()
        if fault is not None:
            return fault
        agreement, error = self._authenticate(partner, headers, body)
        if agreement is None:
            return error
        payload = _json(body)
        ids = payload.get("command_ids") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return _error(400, "malformed_request", 'The body needs a "command_ids" list.')
        with self.lock:
            results = [
                {
                    "command_id": command_id,
                    "status": "cancelled" if agreement.fleet.cancel(command_id) else "unknown",
                }
                for command_id in ids
            ]
        return Reply(200, {"results": results})

    def handle_status(self, partner: str, command_id: str, headers: Mapping[str, str]) -> Reply:
        self._count("status")
        agreement, error = self._authenticate(partner, headers, b"", remember=False)
        if agreement is None:
            return error
        with self.lock:
            answer = agreement.results.get(command_id)
            tracked = agreement.fleet.commands.get(command_id)
            if answer is None:
                return Reply(200, {"command_id": command_id, "status": "unknown", "reason": ""})
            status = str(tracked.status) if tracked is not None else answer["status"]
            return Reply(
                200,
                {"command_id": command_id, "status": status, "reason": answer.get("reason", "")},
            )

    def _count(self, kind: str) -> None:
        with self.lock:
            self.requests[kind] += 1

    def _authenticate(
        self, partner: str, headers: Mapping[str, str], body: bytes, *, remember: bool = True
    ) -> tuple[AgreementSim | None, Reply | None]:
        """The agreement whose secret signed the request. Requests that change something
        (``remember``) are accepted once; a status query has no body to make it unique and
        no effect to repeat."""
        candidates = [a for a in self.agreements if a.partner == partner and not a.pulls]
        if not candidates:
            return None, _error(404, "not_found", f"No partner {partner!r} here.")
        now = self.clock()
        try:
            index = verify(
                secrets=[a.signing_secret for a in candidates],
                body=body,
                timestamp_header=headers.get(TIMESTAMP_HEADER),
                signature_header=headers.get(SIGNATURE_HEADER),
                now=now,
            )
            if remember:
                self.replay_guard.check_and_remember(
                    signature_header=headers[SIGNATURE_HEADER],
                    timestamp=int(headers[TIMESTAMP_HEADER]),
                    now=now,
                )
        except SignatureError as refused:
            return None, _error(401, refused.code, refused.message)
        return candidates[index], None

    def _request_fault(self) -> Reply | None:
        """An outage or injected failure for this request, if one applies."""
        now = self.clock()
        with self.lock:
            faults, chance = self.faults, self._chance
            if faults.offline_until <= now and chance.random() < self.behaviour.offline_rate:
                faults.offline_until = now + self.behaviour.offline_seconds
            if faults.offline_until > now:
                if faults.offline_mode == "timeout":
                    return Reply(0, hang_seconds=faults.hang_seconds)
                retry_after = str(max(1, int(faults.offline_until - now)))
                return Reply(
                    503,
                    _error_body("offline", "Down for maintenance."),
                    headers={"Retry-After": retry_after},
                )
            if chance.random() < faults.fail_5xx_rate:
                return Reply(503, _error_body("unavailable", "Try again later."))
            if chance.random() < faults.throttle_rate:
                return Reply(
                    429,
                    _error_body("rate_limited", "Too many requests."),
                    headers={"Retry-After": str(math.ceil(faults.retry_after_seconds))},
                )
            if chance.random() < faults.timeout_rate:
                return Reply(0, hang_seconds=faults.hang_seconds)
        return None

    def _answer(self, results: list[dict]) -> Reply:
        with self.lock:
            faults, chance = self.faults, self._chance
            if chance.random() < faults.lose_response_rate:
                return Reply(503, _error_body("unavailable", "The answer was lost."))
            if chance.random() < faults.invalid_response_rate:
                return Reply(200, b"<html>Internal gateway hiccup</html>")
            if results and chance.random() < faults.drop_results_rate:
                keep = chance.randrange(len(results))
                results = results[:keep]
        return Reply(200, {"results": results})

    # --- Deciding on commands ---------------------------------------------------------------

    def receive(self, agreement: AgreementSim, items: list[Any]) -> list[dict]:
        """Decide on each command (once: a repeated command id gets its first answer and is
        not carried out again). Call with the lock held."""
        results = []
        for item in items:
            command_id = item.get("command_id") if isinstance(item, dict) else None
            if not isinstance(command_id, str) or not command_id:
                results.append(
                    {"command_id": command_id, "status": "rejected", "reason": "invalid_command"}
                )
                continue
            agreement.received[command_id] += 1
            answer = agreement.results.get(command_id)
            if answer is None:
                answer = self._decide(agreement, command_id, item)
                agreement.results[command_id] = answer
                agreement.answered_at[command_id] = self.clock()
            results.append({"command_id": command_id, **answer})
        return results

    def _decide(self, agreement: AgreementSim, command_id: str, item: dict) -> dict[str, str]:
        command, problem = self._command(agreement, command_id, item)
        if command is not None:
            problem = agreement.fleet.admission_problem(command)
        chance = random.Random(f"{self.behaviour.seed}:{command_id}")
        reject_rate = _override(self.faults.reject_rate, self.behaviour.reject_rate)
        opt_out_rate = _override(self.faults.opt_out_rate, self.behaviour.opt_out_rate)
        if not problem and chance.random() < reject_rate:
            problem = chance.choice(REJECT_REASONS)
        at = wire_time(datetime.fromtimestamp(self.clock(), UTC))
        if problem:
            if agreement.pulls:  # no response to carry the answer: acknowledge it
                self.outbox.put_ack(
                    agreement.partner,
                    {"command_id": command_id, "status": "rejected", "reason": problem, "at": at},
                )
            return {"status": "rejected", "reason": problem}
        agreement.fleet.add(command, opts_out=chance.random() < opt_out_rate)
        agreement.actuations[command_id] += 1
        self.outbox.put_ack(
            agreement.partner, {"command_id": command_id, "status": "accepted", "at": at}
        )
        return {"status": "accepted", "reason": ""}

    @staticmethod
    def _command(
        agreement: AgreementSim, command_id: str, item: dict
    ) -> tuple[Command | None, str]:
        try:
            kind = Kind(item.get("kind"))
        except ValueError:
            return None, "unsupported_kind"
        setpoint = item.get("setpoint_kw", 0)
        if isinstance(setpoint, bool) or not isinstance(setpoint, int | float):
            return None, "invalid_setpoint"
        starts_at, ends_at = _parse_time(item.get("starts_at")), _parse_time(item.get("ends_at"))
        if starts_at is None or ends_at is None:
            return None, "invalid_window"
        vehicle_id = agreement.vehicle_id_for(item)
        if vehicle_id is None:
            return None, "unknown_vehicle"
        event_id = item.get("event_id")
        return (
            Command(
                command_id,
                vehicle_id,
                kind,
                float(setpoint),
                starts_at,
                ends_at,
                event_id=event_id if isinstance(event_id, str) else "",
            ),
            "",
        )

    # --- Time passing -------------------------------------------------------------------------

    def tick(self, *, post_telemetry: bool) -> None:
        """Advance every fleet to now; queue the acknowledgements of finished commands, the
        opt-outs, and (when asked) a reading per vehicle."""
        to = datetime.fromtimestamp(self.clock(), UTC)
        with self.lock:
            for agreement in self.agreements:
                readings, events = agreement.fleet.step(to)
                self._forget_old_answers(agreement)
                for event in events:
                    self._report(agreement, event)
                if post_telemetry and not self.faults.telemetry_paused:
                    self.outbox.put_readings(
                        agreement.partner, map(agreement.telemetry_format.payload, readings)
                    )

    def _forget_old_answers(self, agreement: AgreementSim) -> None:
        horizon = self.clock() - ANSWER_RETENTION_SECONDS
        old = [cid for cid, at in agreement.answered_at.items() if at < horizon]
        for command_id in old:
            tracked = agreement.fleet.commands.get(command_id)
            if tracked is not None and tracked.status == CommandStatus.ACCEPTED:
                continue  # still running
            agreement.fleet.commands.pop(command_id, None)
            agreement.results.pop(command_id, None)
            agreement.answered_at.pop(command_id, None)
            agreement.actuations.pop(command_id, None)
            agreement.received.pop(command_id, None)

    def _report(self, agreement: AgreementSim, event: CommandEvent) -> None:
        command = event.command
        if event.status == CommandStatus.OPTED_OUT:
            # Out of the event when the command names one, else out of the rest of its window.
            scope = (
                {"event_id": command.event_id}
                if command.event_id
                else {
                    "starts_at": wire_time(max(command.starts_at, event.at)),
                    "ends_at": wire_time(command.ends_at),
                }
            )
            self.outbox.put_opt_out(
                agreement.partner,
                {
                    "vin": agreement.fleet.vehicles[command.vehicle_id].vin,
                    **scope,
                    "reason": event.reason,
                    "reference": f"sim-{command.command_id}"[:100],
                },
            )
            return
        ack = {
            "command_id": command.command_id,
            "status": str(event.status),
            "at": wire_time(event.at),
        }
        if event.reason:
            ack["reason"] = event.reason
        self.outbox.put_ack(agreement.partner, ack)

    # --- Admin ------------------------------------------------------------------------------

    def set_faults(self, changes: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.faults.update(changes, now=self.clock())
            return self.faults.as_dict(now=self.clock())

    def reset_faults(self) -> dict[str, Any]:
        with self.lock:
            self.faults = Faults()
            return self.faults.as_dict(now=self.clock())

    def state(self) -> dict[str, Any]:
        with self.lock:
            return {
                "faults": self.faults.as_dict(now=self.clock()),
                "outbox": self.outbox.sizes(),
                "agreements": [
                    {
                        "utility": a.utility,
                        "partner": a.partner,
                        "pulls": a.pulls,
                        # Every arrival of a command id, and the ids that arrived more than
                        # once (each answered with its first answer, never carried out again).
                        "received": a.received.total(),
                        "duplicates": {cid: n for cid, n in a.received.items() if n > 1},
                        "commands": {
                            command_id: {
                                **answer,
                                "actuations": a.actuations[command_id],
                                "state": str(a.fleet.commands[command_id].status)
                                if command_id in a.fleet.commands
                                else answer["status"],
                            }
                            for command_id, answer in a.results.items()
                        },
                        "vehicles": {
                            vid: {
                                "soc_pct": round(s.soc_pct, 3),
                                "power_kw": round(s.power_kw, 3),
                                "plugged_in": s.plugged_in,
                                "charged_kwh": round(s.charged_kwh, 6),
                                "discharged_kwh": round(s.discharged_kwh, 6),
                            }
                            for vid, s in a.fleet.states.items()
                        },
                    }
                    for a in self.agreements
                ],
            }


def _override(value: float | None, default: float) -> float:
    return default if value is None else value


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


def _error_body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _error(status: int, code: str, message: str) -> Reply:
    return Reply(status, _error_body(code, message))
