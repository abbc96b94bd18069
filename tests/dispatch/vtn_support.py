"""A grid operator's VTN for the VEN's tests: OpenLEADR's real ``OpenADRServer`` (from PyPI)
on a loopback port, over mutual TLS with signed messages both ways, driven through its public
handlers (``on_poll``, ``on_request_event``, ``on_create_party_registration``) so a test says
what the VTN lists and sends next — including what OpenLEADR's own queue never sends (an empty
distribute, a re-listed cancelled event, a registration cancelled by the VTN).

It records every ``oadrCreatedEvent`` response the VEN sent, reason included."""

from __future__ import annotations

import asyncio
import ipaddress
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from openleadr import OpenADRServer, enums
from openleadr.utils import certificate_fingerprint

from dispatch.grid.ven import VenRunner
from tests.net import free_port

VEN_ID = "ven-portal-1"


def certificate(tmp_path, name: str) -> tuple[str, str, str]:
    """A self-signed RSA certificate and key (PEM files) and its OpenADR fingerprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path), certificate_fingerprint(cert_pem.decode())


def vtn_event(
    event_id: str,
    *,
    starts_at: datetime,
    minutes: int = 60,
    modification: int = 0,
    status: str = "far",
    values: tuple[float, ...] = (75.0,),
    signal_name: str = "LOAD_DISPATCH",
    units: str = "W",
    scale: str = "k",
    market_context: str = "oadr://iso/peak",
    priority: int = 0,
    test_event: bool = False,
    start_after_minutes: int = 0,
    targets: list[dict] | None = None,
) -> dict:
    """One event as OpenLEADR's VTN sends it; ``values`` split ``minutes`` into intervals."""
    step = timedelta(minutes=minutes) / len(values)
    intervals = [
        {"dtstart": starts_at + i * step, "duration": step, "signal_payload": v, "uid": i}
        for i, v in enumerate(values)
    ]
    signal = {
        "signal_name": signal_name,
        "signal_type": "setpoint" if signal_name == "LOAD_DISPATCH" else "level",
        "signal_id": f"{event_id}-signal",
        "intervals": intervals,
    }
    if signal_name == "LOAD_DISPATCH":
        measurement = enums.MEASUREMENTS.REAL_POWER
        signal["measurement"] = {
            "name": measurement.name,
            "description": measurement.description,
            "unit": units,
            "scale": scale,
            "power_attributes": measurement.power_attributes,
            "ns": measurement.ns,
        }
    active_period = {"dtstart": starts_at, "duration": timedelta(minutes=minutes)}
    if start_after_minutes:
        active_period["tolerance"] = {"startafter": timedelta(minutes=start_after_minutes)}
    return {
        "event_descriptor": {
            "event_id": event_id,
            "modification_number": modification,
            "market_context": market_context,
            "event_status": status,
            "created_date_time": datetime.now(UTC),
            "priority": priority,
            "test_event": test_event,
        },
        "active_period": active_period,
        "event_signals": [signal],
        "targets": targets or [{"ven_id": VEN_ID}],
        "response_required": "always",
    }


class ScriptedVtn:
    """OpenLEADR's VTN with its answers set by the test: ``listing`` is every event it has for
    the VEN (sent on ``oadrRequestEvent``), ``send(...)`` queues the answer to the next
    ``oadrPoll``. ``registrations`` decides each registration: a (ven id, registration id)
    pair, or False to refuse it. ``slow_polls`` delays that many poll answers by
    ``slow_seconds`` *after* the VTN handled them (its queue already emptied)."""

    def __init__(self, loop, tmp_path, *, secure: bool = True):
        self.loop, self.port = loop, free_port()
        self.listing: list[dict] = []
        self.queue: list[tuple[str, dict]] = []
        self.responses: list[dict] = []  # every eventResponse of every oadrCreatedEvent
        self.registrations: list = []  # next answers; empty: accept
        self.registration_count = 0
        self.request_event_count = 0
        self.slow_polls, self.slow_seconds = 0, 0.0
        self.secure = secure
        if secure:
            self.cert, self.key, self.fingerprint = certificate(tmp_path, "iso-vtn")
            self.ven_cert, self.ven_key, self.ven_fingerprint = certificate(tmp_path, "portal-ven")
        self.server = loop.run(self._make())

    async def _make(self) -> OpenADRServer:
        secure = self.secure
        server = OpenADRServer(
            vtn_id="iso-vtn",
            http_host="127.0.0.1",
            http_port=self.port,
            requested_poll_freq=timedelta(seconds=1),
            cert=self.cert if secure else None,
            key=self.key if secure else None,
            show_fingerprint=False,
            fingerprint_lookup=(lambda ven_id: self.ven_fingerprint) if secure else None,
            verify_message_signatures=secure,
            http_cert=self.cert if secure else None,
            http_key=self.key if secure else None,
            http_ca_file=self.ven_cert if secure else None,
        )
        server.add_handler("on_create_party_registration", self._register)
        server.add_handler("on_poll", self._poll)
        server.add_handler("on_request_event", self._request_event)
        server.add_handler("on_created_event", self._created_event)
        events = server.services["event_service"]
        handled = events.handlers["oadrCreatedEvent"]

        async def created(payload):  # the reasons, which on_created_event does not receive
            self.responses.extend(payload.get("event_responses") or [])
            return await handled(payload)

        events.handlers["oadrCreatedEvent"] = created
        server.app.middlewares.append(self._slow_middleware())
        await server.run_async()
        return server

    def _slow_middleware(self):
        from aiohttp import web

        @web.middleware
        async def slow(request, handler):
            response = await handler(request)
            if request.path.endswith("/OadrPoll") and self.slow_polls > 0:
                self.slow_polls -= 1
                await asyncio.sleep(self.slow_seconds)
            return response

        return slow

    @property
    def url(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"{scheme}://127.0.0.1:{self.port}/OpenADR2/Simple/2.0b"

    async def _register(self, info):
        self.registration_count += 1
        if self.registrations:
            return self.registrations.pop(0)
        return VEN_ID, f"reg-{VEN_ID}"

    async def _poll(self, ven_id):
        if self.queue:
            return self.queue.pop(0)
        return None

    async def _request_event(self, ven_id):
        self.request_event_count += 1
        return list(self.listing) or None

    async def _created_event(self, ven_id, event_id, opt_type):
        return None

    def distribute(self, *events: dict) -> None:
        """List exactly these events and push them on the next poll (none: an empty list)."""
        self.listing = list(events)
        self.queue.append(("oadrDistributeEvent", {"events": list(events)}))

    def send(self, message_type: str, payload: dict) -> None:
        self.queue.append((message_type, payload))

    def answers(self) -> list[tuple[str, int, str, str]]:
        return [
            (
                r["event_id"],
                r["modification_number"],
                r["opt_type"],
                r.get("response_description", ""),
            )
            for r in self.responses
        ]

    def stop(self) -> None:
        self.loop.run(self.server.stop())


@contextmanager
def running_ven(loop, settings=None, vtn: ScriptedVtn | None = None):
    """The portal's VEN against the VTN (with the VEN's certificate when the VTN is secure)."""
    if settings is not None and vtn is not None and vtn.secure:
        settings.OPENADR_VEN_CERT, settings.OPENADR_VEN_KEY = vtn.ven_cert, vtn.ven_key
        settings.OPENADR_CA_FILE = vtn.cert
    stop = asyncio.Event()
    runner = VenRunner(reload_seconds=0.5)
    running = asyncio.run_coroutine_threadsafe(runner.run(stop), loop.loop)
    try:
        yield runner
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        running.result(30)
