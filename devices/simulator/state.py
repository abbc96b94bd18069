"""What the simulated automaker cloud holds: how it behaves on its own (``Behaviour``) and
under test (``Faults``), the agreements it serves with their fleets and telemetry formats
(``AgreementSim``, ``TelemetryFormat``), what it still has to tell the portal (``Outbox``),
and the ``Reply`` that ``server`` turns into an HTTP response."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from devices.adapters.base import wire_time
from devices.simulator.fleet import Fleet, Reading


@dataclass
class Behaviour:
    """How the cloud behaves on its own (command-line options)."""

    reject_rate: float = 0.05
    offline_rate: float = 0.0  # chance, per command request, that an outage starts
    offline_seconds: float = 120.0
    opt_out_rate: float = 0.02
    seed: int = 42


@dataclass
class Faults:
    """Faults switched on at run time (``/_admin/faults``) for fault tests. Rates are per
    command request."""

    offline_seconds: float = 0.0  # from now: every command request answers 503 (or hangs)
    offline_mode: str = "503"  # "503" or "timeout"
    fail_5xx_rate: float = 0.0
    throttle_rate: float = 0.0  # answer 429 Too Many Requests, Retry-After: retry_after_seconds
    retry_after_seconds: int = 1
    timeout_rate: float = 0.0  # hold the request ``hang_seconds``, then drop it unanswered
    hang_seconds: float = 30.0
    invalid_response_rate: float = 0.0  # answer 200 with a body that is not JSON
    drop_results_rate: float = 0.0  # answer without the results of some commands
    lose_response_rate: float = 0.0  # act on the batch, then answer 503 as if it was lost
    # Act on every batch at once, then hold the answer this long: a slow partner, so a test
    # can catch a batch in flight (and kill the worker waiting for it).
    answer_delay_seconds: float = 0.0
    reject_rate: float | None = None  # overrides Behaviour.reject_rate
    opt_out_rate: float | None = None  # overrides Behaviour.opt_out_rate
    telemetry_paused: bool = False
    offline_until: float = 0.0  # epoch seconds; set through offline_seconds

    RATES = (
        "fail_5xx_rate",
        "throttle_rate",
        "timeout_rate",
        "invalid_response_rate",
        "drop_results_rate",
        "lose_response_rate",
        "reject_rate",
        "opt_out_rate",
    )

    def update(self, changes: dict[str, Any], *, now: float) -> None:
        """Apply ``changes``; raise ValueError naming the first bad key or value."""
        known = {f.name for f in fields(self)} - {"offline_until"}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"Unknown fault {key!r}; known: {sorted(known)}.")
            if key == "offline_mode":
                if value not in ("503", "timeout"):
                    raise ValueError('offline_mode must be "503" or "timeout".')
            elif key == "telemetry_paused":
                if not isinstance(value, bool):
                    raise ValueError("telemetry_paused must be true or false.")
            elif value is None and key in ("reject_rate", "opt_out_rate"):
                pass
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{key} must be a number ≥ 0.")
            elif key in self.RATES and value > 1:
                raise ValueError(f"{key} must be between 0 and 1.")
        for key, value in changes.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            setattr(self, key, float(value) if numeric else value)
        if "offline_seconds" in changes:
            self.offline_until = now + float(changes["offline_seconds"])

    def as_dict(self, *, now: float) -> dict[str, Any]:
        data = asdict(self)
        data["offline_seconds"] = max(0.0, round(self.offline_until - now, 3))
        del data["offline_until"]
        return data


@dataclass
class Reply:
    status: int
    payload: Any = None  # JSON-able; or raw bytes to send as they are
    hang_seconds: float = 0.0  # > 0: hold the request this long, then drop it unanswered
    delay_seconds: float = 0.0  # > 0: hold the answer this long, then send it
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TelemetryFormat:
    """How this partner writes readings, as its ``AdapterConfig`` tells the portal to expect:
    power in W or kW, SoC as percent or fraction, its own field names."""

    power_in_watts: bool = False
    soc_as_fraction: bool = False
    names: Mapping[str, str] = field(default_factory=dict)  # portal's name → partner's

    def payload(self, reading: Reading) -> dict:
        """A reading as the simulator posts it to ``POST /api/v1/telemetry``."""
        power = reading.power_kw * 1000 if self.power_in_watts else reading.power_kw
        soc = reading.soc_pct / 100 if self.soc_as_fraction else reading.soc_pct
        portal_names = {
            "vin": reading.vin,
            "ts": wire_time(reading.ts),
            "soc": round(soc, 6),
            "power_kw": round(power, 3),
            "plugged_in": reading.plugged_in,
            "charging_state": str(reading.charging_state),
        }
        return {self.names.get(name, name): value for name, value in portal_names.items()}


@dataclass
class AgreementSim:
    """One (utility, partner) agreement the simulator serves."""

    utility: str  # slug
    partner: str  # slug
    signing_secret: str
    fleet: Fleet
    pulls: bool = False  # a pull partner: it fetches commands instead of receiving them
    telemetry_format: TelemetryFormat = field(default_factory=TelemetryFormat)
    results: dict[str, dict[str, str]] = field(default_factory=dict)  # command id → answer
    answered_at: dict[str, float] = field(default_factory=dict)  # command id → epoch seconds
    actuations: Counter = field(default_factory=Counter)  # command id → times carried out
    received: Counter = field(default_factory=Counter)  # command id → times it arrived

    def vehicle_id_for(self, item: dict) -> str | None:
        vehicle_id = item.get("vehicle_id")
        if isinstance(vehicle_id, str) and vehicle_id in self.fleet.vehicles:
            return vehicle_id
        vin = item.get("vin")
        for spec in self.fleet.vehicles.values():
            if spec.vin == vin:
                return spec.vehicle_id
        return vehicle_id if isinstance(vehicle_id, str) else None


@dataclass
class Outbox:
    """What the cloud still has to tell the portal, per partner. Telemetry is bounded: the
    oldest readings go first when the portal is away too long."""

    max_readings: int = 200_000
    acks: deque = field(default_factory=deque)  # (partner, ack)
    opt_outs: deque = field(default_factory=deque)  # (partner, payload)
    readings: deque = field(default_factory=deque)  # (partner, reading)
    dropped_readings: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put_ack(self, partner: str, ack: dict) -> None:
        with self.lock:
            self.acks.append((partner, ack))

    def put_opt_out(self, partner: str, payload: dict) -> None:
        with self.lock:
            self.opt_outs.append((partner, payload))

    def put_readings(self, partner: str, readings: Iterable[dict]) -> None:
        with self.lock:
            for reading in readings:
                self.readings.append((partner, reading))
            while len(self.readings) > self.max_readings:
                self.readings.popleft()
                self.dropped_readings += 1

    def take(self, queue_name: str, *, limit: int) -> list[tuple[str, dict]]:
        with self.lock:
            queue: deque = getattr(self, queue_name)
            return [queue.popleft() for _ in range(min(limit, len(queue)))]

    def put_back(self, queue_name: str, items: list[tuple[str, dict]]) -> None:
        """Items a failed post took out go back to the front, in their order."""
        with self.lock:
            getattr(self, queue_name).extendleft(reversed(items))

    def sizes(self) -> dict[str, int]:
        with self.lock:
            return {
                "acks": len(self.acks),
                "opt_outs": len(self.opt_outs),
                "readings": len(self.readings),
                "dropped_readings": self.dropped_readings,
            }
