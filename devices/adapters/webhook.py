"""The partner webhook adapter: the portal POSTs signed batches of commands to the partner.

The wire format is ``docs/partner-protocol.md`` ("Portal → partner"). Every HTTP call goes
through ``WebhookAdapter._exchange``, the one place that checks the endpoint, asks the
circuit breaker, signs, times, classifies the outcome, moves the circuit and records an
``AdapterAttempt`` — so no call can skip any of those.

The adapter sends once and reports; retrying is the caller's decision (``delivery``), made
from the verdicts: only timeouts, connection errors, 5xx, 408 / 425 / 429 and unusable
answers are retried — not before the partner's ``Retry-After``, when it sends one.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from django.utils import timezone
from urllib3.exceptions import ReadTimeoutError

from devices.adapters import circuit, conf
from devices.adapters.base import (
    Adapter,
    CancelOutcome,
    CancelVerdict,
    Capabilities,
    CommandOutcome,
    EndpointNotAllowed,
    OutgoingCommand,
    SendResult,
    StatusReport,
    Verdict,
)
from devices.adapters.signing import signed_headers
from devices.models import AdapterAttempt

Outcome = AdapterAttempt.Outcome
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
REASON_LENGTH = 250
# Below 500 but worth another try: request timeout, too early, too many requests.
TRANSIENT_4XX = frozenset({408, 425, 429})
RETRY_AFTER_CAP = timedelta(hours=1)  # a partner's Retry-After is honoured up to this


class PartnerUnavailable(Exception):
    """No usable answer from the partner (``pull_status``)."""


class InvalidResponse(Exception):
    """The partner's answer is not what the protocol says."""


def check_endpoint(url: str) -> str:
    """The URL, if the portal may call it: http(s) to a host and port that
    ``settings.ADAPTER_ALLOWED_HOSTS`` names (see ``devices.adapters.conf``), never a blocked
    port unless named exactly. Anything else raises ``EndpointNotAllowed``, loopback and
    private addresses included."""
    parts = urlsplit(url or "")
    try:
        host = (parts.hostname or "").lower().rstrip(".")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # a port that is not a number, or out of range
        raise EndpointNotAllowed(f"Endpoint {url!r} has an invalid port.") from None
    if parts.scheme not in ("http", "https") or not host:
        raise EndpointNotAllowed(f"Endpoint {url!r} is not an http(s) URL with a host.")
    allowed = conf.allowed_hosts()
    if (host, str(port)) in allowed:
        return url
    if (host, "*") in allowed:
        if port not in conf.blocked_ports():
            return url
        raise EndpointNotAllowed(
            f"Endpoint {host}:{port} is a port the portal never calls (a database, broker or "
            "similar service); name it exactly in settings.ADAPTER_ALLOWED_HOSTS if you mean it."
        )
    raise EndpointNotAllowed(
        f"Endpoint {host}:{port} is not listed in settings.ADAPTER_ALLOWED_HOSTS, so the portal "
        "will not call it."
    )


def batch_id(batch: Sequence[OutgoingCommand]) -> str:
    """The same commands always make the same batch id, so a re-sent batch is recognisable."""
    joined = "\n".join(sorted(c.command_id for c in batch))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Exchange:
    """One call's result as the adapter's methods need it."""

    outcome: str  # AdapterAttempt.Outcome
    error: str = ""
    value: Any = None  # what ``interpret`` made of the body (OK or INVALID_RESPONSE)
    # When it may be tried again: the circuit's cool-down end (see Permit), or the partner's
    # Retry-After on a transient answer.
    retry_at: datetime | None = None
    transient: bool = False  # worth another try: timeout, connection error, 5xx, bad answer

    @property
    def refused(self) -> bool:
        """The partner answered with a non-2xx below 500: sending again would not help."""
        return self.outcome == Outcome.HTTP_ERROR and not self.transient


class WebhookAdapter(Adapter):
    kind = "webhook"

    def __init__(self, config, *, session: requests.Session | None = None):
        super().__init__(config)
        self.session = session or _new_session()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            pushes=True,
            cancels=True,
            reports_status=True,
            max_batch_size=self.config.max_batch_size,
        )

    # --- The interface --------------------------------------------------------------------

    def send(self, batch: Sequence[OutgoingCommand]) -> SendResult:
        if not batch:
            return SendResult(outcomes={})
        if len(batch) > self.config.max_batch_size:
            raise ValueError(
                f"{len(batch)} commands exceed the batch limit of {self.config.max_batch_size}."
            )
        key = batch_id(batch)
        payload = {
            "batch_id": key,
            "utility": self.config.utility.slug,
            "commands": [c.to_wire() for c in batch],
        }
        exchange = self._exchange(
            "POST",
            "/commands",
            payload=payload,
            command_count=len(batch),
            headers={"Idempotency-Key": key},
            interpret=lambda data: _send_outcomes(data, batch),
        )
        if exchange.outcome == Outcome.CIRCUIT_OPEN:
            return SendResult.for_all(
                batch,
                Verdict.RETRY,
                exchange.error,
                circuit_open=True,
                retry_at=exchange.retry_at,
            )
        if exchange.refused:
            reason = f"The partner refused the batch: {exchange.error}"
            return SendResult.for_all(batch, Verdict.FAILED, reason, error=exchange.error)
        if exchange.value is None:
            return SendResult.for_all(
                batch,
                Verdict.RETRY,
                exchange.error,
                error=exchange.error,
                retry_at=exchange.retry_at,
            )
        return SendResult(outcomes=exchange.value, error=exchange.error)

    def cancel(self, batch: Sequence[OutgoingCommand]) -> dict[str, CancelOutcome]:
        if not batch:
            return {}
        exchange = self._exchange(
            "POST",
            "/commands/cancel",
            payload={"command_ids": [c.command_id for c in batch]},
            command_count=len(batch),
            interpret=lambda data: _cancel_outcomes(data, batch),
        )
        if exchange.value is not None:
            return exchange.value
        verdict = CancelVerdict.NOT_CANCELLABLE if exchange.refused else CancelVerdict.RETRY
        reason = exchange.error
        return {c.command_id: CancelOutcome(c.command_id, verdict, reason) for c in batch}

    def pull_status(self, command: OutgoingCommand) -> StatusReport:
        exchange = self._exchange(
            "GET",
            f"/commands/{quote(command.command_id, safe='')}",
            command_count=1,
            interpret=lambda data: _status_report(data, command),
        )
        if exchange.value is None or exchange.error:
            raise PartnerUnavailable(exchange.error)
        return exchange.value

    # --- The one way out -------------------------------------------------------------------

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        command_count: int,
        interpret: Callable[[Any], tuple[Any, str]],
        payload: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> Exchange:
        """One HTTP call, recorded. ``interpret(json)`` returns (value, problem); a problem
        (or an exception it raises) makes the attempt ``invalid_response``."""
        started = timezone.now()
        try:
            url = check_endpoint(self.config.endpoint_url).rstrip("/") + path
        except EndpointNotAllowed as refused:
            self._record(started, 0, Outcome.CONNECTION_ERROR, None, command_count, str(refused))
            raise
        permit = circuit.acquire(self.config, now=started)
        if not permit.allowed:
            error = (
                f"Circuit open; not calling until {permit.retry_at:%Y-%m-%d %H:%M:%S} UTC."
                if permit.retry_at
                else "Circuit half-open; another call is trying the partner."
            )
            self._record(started, 0, Outcome.CIRCUIT_OPEN, None, command_count, error)
            return Exchange(outcome=Outcome.CIRCUIT_OPEN, error=error, retry_at=permit.retry_at)

        if payload is not None:
            # A fresh id per request: an identical re-send within the same second would
            # otherwise carry an identical signature and be refused as a replay.
            payload = {**payload, "request_id": uuid.uuid4().hex}
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        request_headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            **(headers or {}),
            **signed_headers(secret=self.config.signing_secret, body=body),
        }
        clock = time.monotonic()
        status: int | None = None
        try:
            response = self.session.request(
                method,
                url,
                data=body if payload is not None else None,
                headers=request_headers,
                timeout=self.config.timeout_seconds,
                allow_redirects=False,
                stream=True,
            )
            status = response.status_code
            retry_header = response.headers.get("Retry-After")
            content = _read_limited(response)
        except requests.Timeout as error:
            exchange = Exchange(
                Outcome.TIMEOUT,
                f"Timed out after {self.config.timeout_seconds:g} s: {error}",
                transient=True,
            )
        except requests.RequestException as error:
            timed_out = any(isinstance(arg, ReadTimeoutError) for arg in error.args)
            outcome = Outcome.TIMEOUT if timed_out else Outcome.CONNECTION_ERROR
            exchange = Exchange(outcome, f"{type(error).__name__}: {error}", transient=True)
        except InvalidResponse as error:
            exchange = Exchange(Outcome.INVALID_RESPONSE, str(error), transient=True)
        else:
            exchange = _classify(
                status, content, interpret, retry_at=retry_after(retry_header, now=started)
            )
        duration_ms = int((time.monotonic() - clock) * 1000)

        finished = timezone.now()
        if exchange.outcome == Outcome.OK:
            circuit.record_success(self.config, now=finished)
        elif exchange.refused:
            circuit.record_refusal(self.config, now=finished, error=exchange.error)
        else:
            circuit.record_failure(self.config, now=finished, error=exchange.error)
        self._record(started, duration_ms, exchange.outcome, status, command_count, exchange.error)
        return exchange

    def _record(
        self,
        started: datetime,
        duration_ms: int,
        outcome: str,
        http_status: int | None,
        command_count: int,
        error: str,
    ) -> None:
        AdapterAttempt.objects.create(
            utility_id=self.config.utility_id,
            agreement_id=self.config.agreement_id,
            started_at=started,
            duration_ms=duration_ms,
            outcome=outcome,
            http_status=http_status,
            command_count=command_count,
            error=error[:500],
        )


def _new_session() -> requests.Session:
    session = requests.Session()
    # Environment proxies and .netrc must not redirect or decorate calls to partners.
    session.trust_env = False
    return session


def _read_limited(response: requests.Response) -> bytes:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise InvalidResponse(f"The answer is larger than {MAX_RESPONSE_BYTES} bytes.")
            chunks.append(chunk)
    finally:
        response.close()
    return b"".join(chunks)


def retry_after(value: str | None, *, now: datetime) -> datetime | None:
    """The moment a ``Retry-After`` header (seconds, or an HTTP date) names, at most
    ``RETRY_AFTER_CAP`` from ``now``; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        at = now + timedelta(seconds=max(0, int(value))) if value.isdigit() else None
        if at is None:
            at = parsedate_to_datetime(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if at.tzinfo is None:
        return None
    return min(max(at, now), now + RETRY_AFTER_CAP)


def _classify(
    status: int, content: bytes, interpret, *, retry_at: datetime | None = None
) -> Exchange:
    snippet = content[:200].decode("utf-8", "replace")
    if status >= 500 or status in TRANSIENT_4XX:
        return Exchange(
            Outcome.HTTP_ERROR, f"HTTP {status}: {snippet}", transient=True, retry_at=retry_at
        )
    if not 200 <= status < 300:
        return Exchange(Outcome.HTTP_ERROR, f"HTTP {status}: {snippet}")
    try:
        value, problem = interpret(json.loads(content))
    except (ValueError, InvalidResponse) as error:
        # ValueError covers undecodable bytes and JSON that is not JSON.
        return Exchange(Outcome.INVALID_RESPONSE, f"Unusable answer: {error}", transient=True)
    if problem:
        return Exchange(Outcome.INVALID_RESPONSE, problem, value=value, transient=True)
    return Exchange(Outcome.OK, value=value)


def _results(data: Any) -> list:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise InvalidResponse('The answer has no "results" list.')
    return data["results"]


def _reason(item: dict, default: str) -> str:
    reason = item.get("reason")
    return (str(reason) if reason not in (None, "") else default)[:REASON_LENGTH]


def _send_outcomes(data: Any, batch: Sequence[OutgoingCommand]) -> tuple[dict, str]:
    expected = {c.command_id for c in batch}
    outcomes: dict[str, CommandOutcome] = {}
    for item in _results(data):
        command_id = item.get("command_id") if isinstance(item, dict) else None
        if not isinstance(command_id, str) or command_id not in expected or command_id in outcomes:
            continue
        status = item.get("status")
        if status == "accepted":
            outcomes[command_id] = CommandOutcome(command_id, Verdict.ACCEPTED)
        elif status == "rejected":
            reason = _reason(item, "Rejected by the partner.")
            outcomes[command_id] = CommandOutcome(command_id, Verdict.REJECTED, reason)
    missing = [c.command_id for c in batch if c.command_id not in outcomes]
    for command_id in missing:
        outcomes[command_id] = CommandOutcome(
            command_id, Verdict.RETRY, "The partner's answer had no valid result for it."
        )
    problem = f"{len(missing)} of {len(batch)} commands had no valid result." if missing else ""
    return outcomes, problem


def _cancel_outcomes(data: Any, batch: Sequence[OutgoingCommand]) -> tuple[dict, str]:
    expected = {c.command_id for c in batch}
    verdicts = {"cancelled": CancelVerdict.CANCELLED, "unknown": CancelVerdict.UNKNOWN}
    outcomes: dict[str, CancelOutcome] = {}
    for item in _results(data):
        command_id = item.get("command_id") if isinstance(item, dict) else None
        if (
            isinstance(command_id, str)
            and command_id in expected
            and item.get("status") in verdicts
        ):
            outcomes[command_id] = CancelOutcome(command_id, verdicts[item["status"]])
    missing = [c.command_id for c in batch if c.command_id not in outcomes]
    for command_id in missing:
        outcomes[command_id] = CancelOutcome(
            command_id, CancelVerdict.RETRY, "The partner's answer had no valid result for it."
        )
    problem = f"{len(missing)} of {len(batch)} commands had no valid result." if missing else ""
    return outcomes, problem


def _status_report(data: Any, command: OutgoingCommand) -> tuple[StatusReport, str]:
    if not isinstance(data, dict) or data.get("command_id") != command.command_id:
        raise InvalidResponse("The answer is not about this command.")
    status = data.get("status")
    if not isinstance(status, str) or not status:
        raise InvalidResponse('The answer has no "status".')
    return StatusReport(command.command_id, status, _reason(data, "")), ""
