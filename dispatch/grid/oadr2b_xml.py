"""OpenADR 2.0b messages as the VEN reads them: parsed with lxml under hard limits (no DTD, no
entities, no network, bounded size), validated against the 2.0b schemas shipped by the
installed ``openleadr`` package (loaded from there, never copied into the project), the VTN's
XML signature checked when the source names its certificate, and each ``oadrEvent`` read into
plain values (``VtnEvent``) the event state machine (``oadr2b_events``) works on.

Reading an event never raises for the whole message: an event the VEN cannot use becomes a
``Malformed`` entry that is answered optOut on its own, so one bad or stale event cannot take
the others in the same ``oadrDistributeEvent`` with it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import openleadr
from lxml import etree

MAX_MESSAGE_BYTES = 2_000_000

NS = {
    "oadr": "http://openadr.org/oadr-2.0b/2012/07",
    "ei": "http://docs.oasis-open.org/ns/energyinterop/201110",
    "pyld": "http://docs.oasis-open.org/ns/energyinterop/201110/payloads",
    "emix": "http://docs.oasis-open.org/ns/emix/2011/06",
    "xcal": "urn:ietf:params:xml:ns:icalendar-2.0",
    "strm": "urn:ietf:params:xml:ns:icalendar-2.0:stream",
    "scale": "http://docs.oasis-open.org/ns/emix/2011/06/siscale",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
}
# siScaleCode multipliers (OpenADR 2.0b, emix siscale).
SI_SCALE = {
    "p": 1e-12,
    "n": 1e-9,
    "micro": 1e-6,
    "m": 1e-3,
    "c": 1e-2,
    "d": 1e-1,
    "none": 1.0,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
}


class InvalidMessage(ValueError):
    """Not a well-formed, schema-valid OpenADR 2.0b message; ``errors`` lists why."""

    def __init__(self, summary: str, errors: list[str] | None = None):
        super().__init__(summary)
        self.errors = errors or [summary]


class Malformed(ValueError):
    """An event the VEN cannot act on (what it lacks is the message)."""


@cache
def schema() -> etree.XMLSchema:
    """The OpenADR 2.0b schema from the installed openleadr package (its XSDs import each other
    by relative path, so they are parsed from their own folder; no network)."""
    path = Path(openleadr.__file__).parent / "schema" / "oadr_20b.xsd"
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse(content: bytes) -> etree._Element:
    """The message's root element, schema-valid; ``InvalidMessage`` otherwise. A document type
    declaration is refused outright: OpenADR has none, and it is how entity bombs and local
    file reads arrive."""
    if not content:
        raise InvalidMessage("The message is empty.")
    if len(content) > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"The message is larger than {MAX_MESSAGE_BYTES} bytes.")
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise InvalidMessage("The message declares a document type; OpenADR messages do not.")
    try:
        root = etree.fromstring(content, _parser())
    except etree.XMLSyntaxError as exc:
        raise InvalidMessage(f"Not well-formed XML: {exc}") from None
    validator = schema()
    if not validator.validate(root):
        errors = [f"line {e.line}: {e.message}" for e in list(validator.error_log)[:20]]
        raise InvalidMessage("The message is not valid OpenADR 2.0b.", errors)
    return root


def message_type(root: etree._Element) -> str:
    """The name of the message inside ``oadrSignedObject`` (e.g. ``oadrDistributeEvent``)."""
    signed = root.find("oadr:oadrSignedObject", NS)
    if signed is None or len(signed) == 0:
        raise InvalidMessage("The payload has no signed object.")
    return etree.QName(signed[0]).localname


def body(root: etree._Element) -> etree._Element:
    return root.find("oadr:oadrSignedObject", NS)[0]


def text(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path, NS)
    return (found.text or "").strip() if found is not None else ""


def texts(element: etree._Element | None, path: str) -> list[str]:
    if element is None:
        return []
    return [(e.text or "").strip() for e in element.findall(path, NS) if (e.text or "").strip()]


def response_code(message: etree._Element) -> tuple[int, str]:
    """The ``eiResponse`` code and description of a message (200, "OK" when there is none)."""
    response = message.find("ei:eiResponse", NS)
    if response is None:
        return 200, "OK"
    try:
        code = int(text(response, "ei:responseCode"))
    except ValueError:
        code = 0
    return code, text(response, "ei:responseDescription")


# RFC 5545 / ISO 8601 durations of fixed length (weeks, days, hours, minutes, seconds).
_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W|(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?)$"
)


def datetime_of(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Malformed(f"{value!r} is not a date and time.") from None
    if parsed.tzinfo is None:
        raise Malformed(f"{value!r} has no time zone.")
    return parsed


def duration_of(value: str, *, default: timedelta | None = None) -> timedelta:
    if not value:
        if default is None:
            raise Malformed("A duration is missing.")
        return default
    match = _DURATION.match(value)
    if match is None or value in ("P", "PT") or value.endswith("T"):
        # Years and months have no fixed length; a sign would make the period run backwards.
        raise Malformed(f"{value!r} is not a duration of fixed length.")
    parts = {name: float(number) for name, number in match.groupdict().items() if number}
    return timedelta(**parts)


@dataclass(frozen=True)
class Interval:
    starts_at: datetime
    duration: timedelta
    value: float


@dataclass(frozen=True)
class Signal:
    name: str  # upper case: SIMPLE, LOAD_DISPATCH, ELECTRICITY_PRICE, …
    signal_type: str
    intervals: tuple[Interval, ...]
    units: str = ""  # itemUnits, e.g. W
    scale: str = "none"  # siScaleCode


@dataclass(frozen=True)
class Targets:
    ven_ids: tuple[str, ...] = ()
    resource_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    party_ids: tuple[str, ...] = ()
    # Target kinds the portal has no counterpart for (e.g. "endDeviceAsset", "pnode").
    other_kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class VtnEvent:
    event_id: str
    modification_number: int
    market_context: str
    status: str  # none, far, near, active, completed, cancelled
    starts_at: datetime
    duration: timedelta
    test_event: bool = False
    priority: int = 0  # OpenADR: the lower the number the higher the priority; 0 = none
    start_after: timedelta = timedelta(0)
    signals: tuple[Signal, ...] = ()
    targets: Targets = field(default_factory=Targets)
    response_required: bool = True
    vtn_comment: str = ""

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class MalformedEvent:
    """An ``oadrEvent`` that could not be read; answered optOut with ``reason`` when it has an id."""

    event_id: str
    modification_number: int | None
    reason: str
    response_required: bool = True


_TARGET_KINDS = {"venID", "resourceID", "groupID", "partyID"}


def _targets(target: etree._Element | None) -> Targets:
    if target is None:
        return Targets()
    other = sorted(
        {
            etree.QName(child).localname
            for child in target
            if etree.QName(child).localname not in _TARGET_KINDS
        }
    )
    return Targets(
        ven_ids=tuple(texts(target, "ei:venID")),
        resource_ids=tuple(texts(target, "ei:resourceID")),
        group_ids=tuple(texts(target, "ei:groupID")),
        party_ids=tuple(texts(target, "ei:partyID")),
        other_kinds=tuple(other),
    )


def _payload(interval: etree._Element) -> float:
    value = interval.find("ei:signalPayload/ei:payloadFloat/ei:value", NS)
    if value is None:
        raise Malformed("An interval has no numeric payload.")
    try:
        number = float((value.text or "").strip())
    except ValueError:
        raise Malformed(f"{value.text!r} is not a number.") from None
    if not math.isfinite(number):
        raise Malformed("An interval's payload is not a finite number.")
    return number


def _signal(element: etree._Element, starts_at: datetime) -> Signal:
    """A signal's intervals follow each other from the event's start (an interval's own
    ``dtstart``, when given, places it)."""
    intervals, at = [], starts_at
    for interval in element.findall("strm:intervals/ei:interval", NS):
        own_start = text(interval, "xcal:dtstart/xcal:date-time")
        if own_start:
            at = datetime_of(own_start)
        duration = duration_of(text(interval, "xcal:duration/xcal:duration"))
        intervals.append(Interval(starts_at=at, duration=duration, value=_payload(interval)))
        at = at + duration
    item = next(
        (c for c in element if etree.QName(c).namespace not in (NS["ei"], NS["strm"])),
        None,  # the emix itemBase (powerReal, energyReal, currency, …), if any
    )
    units = text(item, "{*}itemUnits") if item is not None else ""
    scale = text(item, "scale:siScaleCode") if item is not None else ""
    return Signal(
        name=text(element, "ei:signalName").upper(),
        signal_type=text(element, "ei:signalType"),
        intervals=tuple(intervals),
        units=units,
        scale=scale or "none",
    )


def read_event(oadr_event: etree._Element) -> VtnEvent | MalformedEvent:
    """One ``oadrEvent`` of an ``oadrDistributeEvent`` (schema-valid already)."""
    event = oadr_event.find("ei:eiEvent", NS)
    descriptor = event.find("ei:eventDescriptor", NS) if event is not None else None
    event_id = text(descriptor, "ei:eventID")[:100]
    required = text(oadr_event, "oadr:oadrResponseRequired") != "never"
    try:
        modification = int(text(descriptor, "ei:modificationNumber"))
    except ValueError:
        modification = None
    try:
        if not event_id:
            raise Malformed("The event has no event id.")
        if modification is None or modification < 0:
            raise Malformed("The event has no valid modification number.")
        properties = event.find("ei:eiActivePeriod/xcal:properties", NS)
        starts_at = datetime_of(text(properties, "xcal:dtstart/xcal:date-time"))
        duration = duration_of(text(properties, "xcal:duration/xcal:duration"))
        start_after = duration_of(
            text(properties, "xcal:tolerance/xcal:tolerate/xcal:startafter"),
            default=timedelta(0),
        )
        priority_text = text(descriptor, "ei:priority")
        signals = tuple(
            _signal(s, starts_at) for s in event.findall("ei:eiEventSignals/ei:eiEventSignal", NS)
        )
        return VtnEvent(
            event_id=event_id,
            modification_number=modification,
            market_context=text(descriptor, "ei:eiMarketContext/emix:marketContext")[:200],
            status=text(descriptor, "ei:eventStatus").lower()[:20],
            starts_at=starts_at,
            duration=duration,
            test_event=text(descriptor, "ei:testEvent").lower() in ("true", "1"),
            priority=int(priority_text) if priority_text.isdigit() else 0,
            start_after=start_after,
            signals=signals,
            targets=_targets(event.find("ei:eiTarget", NS)),
            response_required=required,
            vtn_comment=text(descriptor, "ei:vtnComment")[:200],
        )
    except Malformed as exc:
        return MalformedEvent(event_id, modification, str(exc), required)


def read_distribute(message: etree._Element) -> tuple[str, list[VtnEvent | MalformedEvent]]:
    """The request id and the events of an ``oadrDistributeEvent``."""
    return (
        text(message, "pyld:requestID"),
        [read_event(e) for e in message.findall("oadr:oadrEvent", NS)],
    )
