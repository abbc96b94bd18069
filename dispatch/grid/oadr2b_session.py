"""One source's OpenADR 2.0b VEN session over HTTP pull: register, poll, re-request and
re-register, with every message logged (``GridMessage``) and the source's health kept.

- ``register`` sends ``oadrCreatePartyRegistration`` (as the VEN id the VTN gave before, if
  any); a refusal is kept as the registration state with the VTN's reason.
- After registering, and after any failed exchange (a timeout, an invalid or unsigned
  answer, an HTTP error), the VEN asks for the whole event list with ``oadrRequestEvent``
  before it trusts a poll again: a VTN that sent events in an answer the VEN never got does
  not resend them on the next ``oadrPoll``.
- ``oadrRequestReregistration`` is acknowledged and the VEN registers again; if that is
  refused the session ends and the runner tries again later. ``oadrCancelPartyRegistration``
  is acknowledged and ends the session in the state "cancelled by the VTN" (the source page
  offers to register again).
- Messages are created (and signed, with ``OPENADR_VEN_CERT``) by OpenLEADR's message
  templates; everything received is read by ``oadr2b_xml`` (schema, size, signature).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from datetime import timedelta
from xml.sax.saxutils import escape

import aiohttp
from asgiref.sync import sync_to_async
from django.conf import settings
from openleadr import utils as oadr_utils
from openleadr.messaging import create_message, validate_xml_signature

from dispatch.grid import oadr2b_events, oadr2b_xml
from dispatch.grid.oadr2b_xml import InvalidMessage
from dispatch.models import GridMessage, GridSignalSource
from dispatch.services import grid_messages

logger = logging.getLogger(__name__)
Registration = GridSignalSource.Registration
DEFAULT_POLL = timedelta(seconds=10)
SHORTEST_POLL = timedelta(seconds=1)


@dataclass(frozen=True)
class SourceConfig:
    pk: int
    utility_id: int
    vtn_url: str
    ven_name: str
    ven_id: str
    registration_id: str
    vtn_fingerprint: str

    @property
    def key(self) -> tuple:
        return (self.vtn_url, self.ven_name, self.vtn_fingerprint)


class ExchangeFailed(Exception):
    """The VTN could not be reached, or its answer was not a valid, trusted message."""


class RegistrationEnded(Exception):
    """The session cannot go on: the registration was refused or cancelled by the VTN."""


class Received:
    """A message from the VTN: its type and its (schema-valid) element."""

    def __init__(self, message_type: str, element):
        self.type, self.element = message_type, element


def signing() -> tuple[bytes, bytes] | None:
    if not (settings.OPENADR_VEN_CERT and settings.OPENADR_VEN_KEY):
        return None
    with open(settings.OPENADR_VEN_CERT, "rb") as cert, open(settings.OPENADR_VEN_KEY, "rb") as key:
        return cert.read(), key.read()


def ssl_context() -> ssl.SSLContext | None:
    """Mutual TLS with the VEN's certificate, the VTN's checked against ``OPENADR_CA_FILE``."""
    if not settings.OPENADR_CA_FILE:
        return None
    context = ssl.create_default_context(cafile=settings.OPENADR_CA_FILE)
    if settings.OPENADR_VEN_CERT and settings.OPENADR_VEN_KEY:
        context.load_cert_chain(
            settings.OPENADR_VEN_CERT,
            settings.OPENADR_VEN_KEY,
            settings.OPENADR_VEN_KEY_PASSPHRASE or None,
        )
    return context


@sync_to_async
def _log(source_pk: int, **fields) -> None:
    source = GridSignalSource(pk=source_pk, utility_id=fields.pop("utility_id"))
    source.protocol = GridSignalSource.Protocol.OPENADR_20B
    grid_messages.record_message(source=source, **fields)


class Session:
    def __init__(self, config: SourceConfig):
        self.config = config
        self.ven_id = config.ven_id
        self.registration_id = config.registration_id
        self.poll_every = DEFAULT_POLL
        self.resync = True
        self.keys = signing()
        self.timeout = float(getattr(settings, "OPENADR_VEN_TIMEOUT_SECONDS", 10))
        self.http: aiohttp.ClientSession | None = None

    # -- transport -----------------------------------------------------------------------

    async def _http(self) -> aiohttp.ClientSession:
        if self.http is None:
            context = ssl_context()
            self.http = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context) if context else None,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "application/xml"},
            )
        return self.http

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None

    async def exchange(
        self,
        service: str,
        message_type: str,
        *,
        summary: str = "",
        vtn_event_id: str = "",
        **payload,
    ) -> Received | None:
        """Send one message and read the answer (None for an empty answer)."""
        cert, key = self.keys or (None, None)
        message = create_message(
            message_type,
            cert=cert,
            key=key,
            passphrase=settings.OPENADR_VEN_KEY_PASSPHRASE or None,
            **payload,
        )
        log = {"utility_id": self.config.utility_id}
        await _log(
            self.config.pk,
            **log,
            direction=GridMessage.Direction.OUT,
            message_type=message_type,
            body=message,
            summary=summary,
            vtn_event_id=vtn_event_id,
        )
        try:
            http = await self._http()
            async with http.post(f"{self.config.vtn_url}/{service}", data=message) as answer:
                content = await answer.content.read(oadr2b_xml.MAX_MESSAGE_BYTES + 1)
                status = answer.status
        except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
            why = f"{service}: {type(exc).__name__} {exc}".strip()
            if isinstance(exc, TimeoutError):
                why = f"{service}: the VTN did not answer within {self.timeout:g} s"
            raise ExchangeFailed(why) from None
        if status != 200:
            await _log(
                self.config.pk,
                **log,
                direction=GridMessage.Direction.IN,
                message_type=f"HTTP {status}",
                body=content[:2000],
                validation=GridMessage.Validation.INVALID,
                errors=[f"HTTP status {status}"],
            )
            raise ExchangeFailed(f"{service}: the VTN answered HTTP {status}")
        if not content.strip():
            return None
        return await self._read(content, log)

    async def _read(self, content: bytes, log: dict) -> Received:
        def invalid(summary: str, errors: list[str]):
            return _log(
                self.config.pk,
                **log,
                direction=GridMessage.Direction.IN,
                message_type="(invalid)",
                body=content if b"<!ENTITY" not in content else b"(refused: declares entities)",
                validation=GridMessage.Validation.INVALID,
                errors=errors,
                summary=summary,
            )

        try:
            root = oadr2b_xml.parse(content)
            message_type = oadr2b_xml.message_type(root)
        except InvalidMessage as exc:
            await invalid(str(exc), exc.errors)
            raise ExchangeFailed(f"The VTN's answer was refused: {exc}") from None
        if self.config.vtn_fingerprint:
            try:
                validate_xml_signature(root, cert_fingerprint=self.config.vtn_fingerprint)
            except Exception as exc:  # noqa: BLE001 - any signature failure means: not trusted
                why = "not signed by the expected certificate"
                await invalid(f"The message is {why}.", [f"{type(exc).__name__}: {exc}"[:500]])
                raise ExchangeFailed(f"The VTN's answer is {why}") from None
        await _log(
            self.config.pk,
            **log,
            direction=GridMessage.Direction.IN,
            message_type=message_type,
            body=content,
            validation=GridMessage.Validation.VALID,
        )
        return Received(message_type, oadr2b_xml.body(root))

    # -- registration --------------------------------------------------------------------

    async def register(self) -> None:
        """Register (again); ``RegistrationEnded`` when the VTN refuses."""
        answer = await self.exchange(
            "EiRegisterParty",
            "oadrCreatePartyRegistration",
            request_id=oadr_utils.generate_id(),
            ven_id=self.ven_id or None,
            registration_id=self.registration_id or None,
            ven_name=self.config.ven_name,
            http_pull_model=True,
            xml_signature=bool(self.keys),
            report_only=False,
            profile_name="2.0b",
            transport_name="simpleHttp",
            transport_address=None,
        )
        if answer is None or answer.type != "oadrCreatedPartyRegistration":
            raise ExchangeFailed("The VTN did not answer the registration.")
        code, description = oadr2b_xml.response_code(answer.element)
        ven_id = oadr2b_xml.text(answer.element, "ei:venID")
        registration_id = oadr2b_xml.text(answer.element, "ei:registrationID")
        if code != 200 or not registration_id or not ven_id:
            why = f"The VTN refused the registration ({code} {description})".strip()
            await sync_to_async(grid_messages.note_registration)(
                self.config.pk, Registration.REFUSED, registration_id="", error=why
            )
            raise RegistrationEnded(why)
        self.ven_id, self.registration_id = ven_id, registration_id
        frequency = oadr2b_xml.text(answer.element, "oadr:oadrRequestedOadrPollFreq/xcal:duration")
        try:
            every = oadr2b_xml.duration_of(frequency, default=DEFAULT_POLL)
        except oadr2b_xml.Malformed:
            every = DEFAULT_POLL
        self.poll_every = max(every, SHORTEST_POLL)
        self.resync = True
        await sync_to_async(grid_messages.note_registration)(
            self.config.pk,
            Registration.REGISTERED,
            ven_id=ven_id,
            registration_id=registration_id,
        )

    # -- events --------------------------------------------------------------------------

    async def request_events(self) -> None:
        answer = await self.exchange(
            "EiEvent",
            "oadrRequestEvent",
            request_id=oadr_utils.generate_id(),
            ven_id=self.ven_id,
            reply_limit=None,
        )
        if answer is None or answer.type == "oadrResponse":
            await self.distribute(None)  # the VTN has no events for this VEN
        elif answer.type == "oadrDistributeEvent":
            await self.distribute(answer.element)
        else:
            raise ExchangeFailed(f"oadrRequestEvent was answered with {answer.type}.")

    async def distribute(self, element) -> None:
        """Act on the VTN's event list (None: an empty list) and answer what it asks."""
        request_id, events = (
            oadr2b_xml.read_distribute(element) if element is not None else ("", [])
        )
        responses = await sync_to_async(oadr2b_events.handle_distribute)(self.config.pk, events)
        if not responses:
            return
        summary = "; ".join(
            f"{r.event_id}#{r.modification_number} {r.opt_type}: {r.reason}" for r in responses
        )
        await self.exchange(
            "EiEvent",
            "oadrCreatedEvent",
            summary=summary,
            vtn_event_id=responses[0].event_id if len(responses) == 1 else "",
            ven_id=self.ven_id,
            response={"response_code": 200, "response_description": "OK", "request_id": request_id},
            event_responses=[
                {
                    "response_code": r.response_code,
                    # The reason, for the VTN's operator (escaped: the templates do not).
                    "response_description": escape(r.reason[:250] or "OK"),
                    "request_id": request_id,
                    "event_id": escape(r.event_id),
                    "modification_number": r.modification_number,
                    "opt_type": r.opt_type,
                }
                for r in responses
            ],
        )

    # -- the poll loop -------------------------------------------------------------------

    async def poll_once(self) -> None:
        if self.resync:
            await self.request_events()
            self.resync = False
        answer = await self.exchange("OadrPoll", "oadrPoll", ven_id=self.ven_id)
        if answer is not None:
            await self.on_message(answer)
        await sync_to_async(grid_messages.note_poll_succeeded)(self.config.pk)

    async def on_message(self, answer: Received) -> None:
        if answer.type == "oadrResponse":
            return
        if answer.type == "oadrDistributeEvent":
            await self.distribute(answer.element)
        elif answer.type == "oadrRequestReregistration":
            await self.acknowledge("EiRegisterParty")
            await self.register()
            await self.request_events()
            self.resync = False
        elif answer.type == "oadrCancelPartyRegistration":
            request_id = oadr2b_xml.text(answer.element, "pyld:requestID")
            registration_id = oadr2b_xml.text(answer.element, "ei:registrationID")
            await self.exchange(
                "EiRegisterParty",
                "oadrCanceledPartyRegistration",
                response={
                    "response_code": 200,
                    "response_description": "OK",
                    "request_id": request_id,
                },
                registration_id=registration_id,
                ven_id=self.ven_id,
            )
            why = "The VTN cancelled the registration; polling stopped."
            await sync_to_async(grid_messages.note_registration)(
                self.config.pk, Registration.CANCELLED_BY_VTN, registration_id="", error=why
            )
            raise RegistrationEnded(why)
        else:
            await self.acknowledge("OadrPoll", code=460, why=f"{answer.type} is not supported.")

    async def acknowledge(self, service: str, *, code: int = 200, why: str = "OK") -> None:
        await self.exchange(
            service,
            "oadrResponse",
            ven_id=self.ven_id,
            response={
                "response_code": code,
                "response_description": escape(why),
                "request_id": None,
            },
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until stopped or the registration ends (refused on re-registration, cancelled
        by the VTN). A failed exchange is kept on the source and retried, never fatal."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except ExchangeFailed as exc:
                self.resync = True
                await sync_to_async(grid_messages.note_failure)(self.config.pk, str(exc))
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_every.total_seconds())
            except TimeoutError:
                pass
