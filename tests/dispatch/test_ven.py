"""The VEN against a real OpenADR 2.0b VTN (OpenLEADR's server, from PyPI) on a loopback port:
the portal registers, polls, turns the VTN's event into a scheduled event and opts in, follows
the VTN's cancellation, and answers optOut for a market context no program takes — the VTN's
own callbacks are the evidence. A VTN that is down is retried, with the reason on the source."""

from __future__ import annotations

import asyncio
import http.server
import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_scopes import scopes_disabled
from openleadr import OpenADRServer

from dispatch.grid.ven import VenRunner
from dispatch.models import Event, GridSignal, GridSignalSource
from tests.dispatch.events_support import open_program
from tests.dispatch.grid_support import Loop, route, source
from tests.dispatch.vtn_support import certificate
from tests.net import free_port
from tests.worker import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

VEN_ID = "ven-portal-1"


class Vtn:
    """OpenLEADR's VTN: it registers any VEN under ``VEN_ID`` and records the opt answers.
    With ``cert``/``key`` it signs its messages, and with ``ven_fingerprint`` it checks the
    VEN's signatures."""

    def __init__(
        self, loop: Loop, port: int, *, cert=None, key=None, ven_fingerprint=None, ven_cert=None
    ):
        self.loop, self.port, self.opts = loop, port, []
        self.scheme = "https" if ven_cert else "http"

        async def register(registration_info):
            return VEN_ID, f"reg-{VEN_ID}"

        async def make():
            server = OpenADRServer(
                vtn_id="iso-vtn",
                http_host="127.0.0.1",
                http_port=port,
                requested_poll_freq=timedelta(seconds=1),
                cert=cert,
                key=key,
                show_fingerprint=False,
                fingerprint_lookup=(lambda ven_id: ven_fingerprint) if ven_fingerprint else None,
                verify_message_signatures=bool(ven_fingerprint),
                # Mutual TLS when the VEN has a certificate: OpenADR's transport.
                http_cert=cert if ven_cert else None,
                http_key=key if ven_cert else None,
                http_ca_file=ven_cert,
            )
            server.add_handler("on_create_party_registration", register)
            await server.run_async()
            return server

        self.server = loop.run(make())

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/OpenADR2/Simple/2.0b"

    async def _opt(self, ven_id, event_id, opt_type):
        self.opts.append((event_id, opt_type))

    def add_event(self, *, market_context, starts_at, minutes=60, kw=75.0) -> str:
        async def add():
            return self.server.add_event(
                ven_id=VEN_ID,
                signal_name="LOAD_DISPATCH",
                signal_type="setpoint",
                intervals=[
                    {
                        "dtstart": starts_at,
                        "duration": timedelta(minutes=minutes),
                        "signal_payload": kw,
                    }
                ],
                market_context=market_context,
                callback=self._opt,
            )

        return self.loop.run(add())

    def cancel(self, event_id: str) -> None:
        async def cancel():
            self.server.cancel_event(VEN_ID, event_id)

        self.loop.run(cancel())

    def stop(self):
        self.loop.run(self.server.stop())


@pytest.fixture
def loop():
    loop = Loop()
    yield loop
    loop.close()


def grid_events(utility):
    with scopes_disabled():
        return list(Event.objects.filter(utility=utility, source=Event.Source.GRID_PROTOCOL))


def test_the_vtns_event_is_scheduled_opted_in_and_cancelled_when_the_vtn_cancels(utility_a, loop):
    vtn = Vtn(loop, free_port())
    src = source(utility_a, vtn_url=vtn.url)
    program = open_program(utility_a, name="Peak relief", status="open")
    route(src, program, market_context="oadr://iso/peak")
    starts = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    event_id = vtn.add_event(market_context="oadr://iso/peak", starts_at=starts)
    ignored = vtn.add_event(
        market_context="oadr://iso/unknown", starts_at=starts + timedelta(hours=3)
    )
    stop = asyncio.Event()
    runner = VenRunner(reload_seconds=1.0)
    running = asyncio.run_coroutine_threadsafe(runner.run(stop), loop.loop)
    try:
        wait_for(
            lambda: (event_id, "optIn") in vtn.opts and (ignored, "optOut") in vtn.opts,
            timeout=30,
            message=f"the VTN heard {vtn.opts}",
        )
        (event,) = grid_events(utility_a)
        assert (event.program_id, event.starts_at, event.target_kw) == (program.pk, starts, 75.0)
        src.refresh_from_db()
        assert (src.ven_id, src.registration_id, src.last_error) == (VEN_ID, f"reg-{VEN_ID}", "")

        vtn.cancel(event_id)
        wait_for(
            lambda: _cancelled(event.pk),
            timeout=30,
            message="the cancellation never reached the event",
        )
        with scopes_disabled():
            answers = list(
                GridSignal.objects.filter(source=src)
                .order_by("received_at", "pk")
                .values_list("vtn_event_id", "modification_number", "response")
            )
        assert sorted(answers) == sorted(
            [(event_id, 0, "optIn"), (ignored, 0, "optOut"), (event_id, 1, "optIn")]
        )
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        running.result(30)
        vtn.stop()


def _cancelled(pk: int) -> bool:
    with scopes_disabled():
        return Event.objects.filter(pk=pk, cancelled_at__isnull=False).exists()


def _source(pk: int, **filters) -> bool:
    with scopes_disabled():
        return GridSignalSource.objects.filter(pk=pk, **filters).exists()


def _failed(pk: int) -> bool:
    with scopes_disabled():
        return GridSignalSource.objects.filter(pk=pk).exclude(last_error="").exists()


def test_a_vtn_that_is_down_is_retried_and_the_source_says_why(utility_a, loop):
    port = free_port()  # nothing listens here yet
    src = source(utility_a, vtn_url=f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b")
    stop = asyncio.Event()
    runner = VenRunner(reload_seconds=1.0)
    running = asyncio.run_coroutine_threadsafe(runner.run(stop), loop.loop)
    vtn = None
    try:
        wait_for(
            lambda: _failed(src.pk),
            timeout=30,
            message="the failure was never recorded",
        )
        vtn = Vtn(loop, port)  # the VTN comes up: the next check registers
        wait_for(
            lambda: _source(src.pk, ven_id=VEN_ID, last_error=""),
            timeout=30,
            message="the VEN never registered once the VTN was up",
        )
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        running.result(30)
        if vtn is not None:
            vtn.stop()


def test_a_vtn_outside_loopback_is_never_called(utility_a, loop):
    src = source(utility_a, vtn_url="http://203.0.113.7/OpenADR2/Simple/2.0b")
    stop = asyncio.Event()
    runner = VenRunner(reload_seconds=1.0)
    running = asyncio.run_coroutine_threadsafe(runner.run(stop), loop.loop)
    try:
        wait_for(
            lambda: _failed(src.pk),
            timeout=15,
            message="the refusal was never recorded",
        )
        src.refresh_from_db()
        assert "203.0.113.7" in src.last_error and runner.clients == {}
    finally:
        loop.loop.call_soon_threadsafe(stop.set)
        running.result(30)


def _run_ven(loop):
    stop = asyncio.Event()
    runner = VenRunner(reload_seconds=1.0)
    return stop, runner, asyncio.run_coroutine_threadsafe(runner.run(stop), loop.loop)


def _stop_ven(loop, stop, running):
    loop.loop.call_soon_threadsafe(stop.set)
    running.result(30)


def test_mutual_tls_and_signed_messages_both_ways_when_certificates_are_set(
    utility_a, loop, tmp_path, settings
):
    vtn_cert, vtn_key, vtn_fp = certificate(tmp_path, "iso-vtn")
    ven_cert, ven_key, ven_fp = certificate(tmp_path, "portal-ven")
    settings.OPENADR_VEN_CERT, settings.OPENADR_VEN_KEY = ven_cert, ven_key
    settings.OPENADR_CA_FILE = vtn_cert  # the VTN's (self-signed) certificate is the trust root
    vtn = Vtn(
        loop, free_port(), cert=vtn_cert, key=vtn_key, ven_fingerprint=ven_fp, ven_cert=ven_cert
    )
    assert vtn.url.startswith("https://")
    src = source(utility_a, vtn_url=vtn.url, vtn_fingerprint=vtn_fp)
    route(src, open_program(utility_a, status="open"), market_context="oadr://iso/peak")
    starts = (timezone.now() + timedelta(hours=2)).replace(second=0, microsecond=0)
    event_id = vtn.add_event(market_context="oadr://iso/peak", starts_at=starts)
    stop, _, running = _run_ven(loop)
    try:
        wait_for(
            lambda: (event_id, "optIn") in vtn.opts,
            timeout=30,
            message=f"the VTN heard {vtn.opts}",
        )
        (event,) = grid_events(utility_a)
        assert event.starts_at == starts
    finally:
        _stop_ven(loop, stop, running)
        vtn.stop()


def test_a_vtn_signing_with_another_certificate_is_not_listened_to(
    utility_a, loop, tmp_path, settings
):
    vtn_cert, vtn_key, _ = certificate(tmp_path, "impostor")
    _, _, expected = certificate(tmp_path, "iso-vtn")
    vtn = Vtn(loop, free_port(), cert=vtn_cert, key=vtn_key)
    src = source(utility_a, vtn_url=vtn.url, vtn_fingerprint=expected)
    route(src, open_program(utility_a, status="open"), market_context="oadr://iso/peak")
    vtn.add_event(
        market_context="oadr://iso/peak",
        starts_at=timezone.now() + timedelta(hours=2),
    )
    stop, runner, running = _run_ven(loop)
    try:
        wait_for(lambda: _failed(src.pk), timeout=30, message="the mismatch was never recorded")
        src.refresh_from_db()
        assert "signed by the expected certificate" in src.last_error
        assert runner.clients == {} and vtn.opts == []
        assert grid_events(utility_a) == []
    finally:
        _stop_ven(loop, stop, running)
        vtn.stop()


HOSTILE = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
  <!ENTITY secret SYSTEM "file:///etc/passwd">
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<oadr:oadrPayload xmlns:oadr="http://openadr.org/oadr-2.0b/2012/07">
  <oadr:oadrSignedObject><oadr:oadrCreatedPartyRegistration>&secret;&lol4;</oadr:oadrCreatedPartyRegistration></oadr:oadrSignedObject>
</oadr:oadrPayload>"""


class HostileVtn(http.server.BaseHTTPRequestHandler):
    """Answers every request with an XML bomb that also asks for a local file."""

    def do_POST(self):  # noqa: N802 - the stdlib's name
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(HOSTILE)))
        self.end_headers()
        self.wfile.write(HOSTILE)

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's name
        pass


def test_hostile_xml_from_a_vtn_is_refused_and_leaks_nothing(utility_a, loop):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HostileVtn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    src = source(utility_a, vtn_url=f"http://127.0.0.1:{port}/OpenADR2/Simple/2.0b")
    stop, runner, running = _run_ven(loop)
    try:
        wait_for(lambda: _failed(src.pk), timeout=30, message="the refusal was never recorded")
        src.refresh_from_db()
        assert runner.clients == {} and src.ven_id == "" and src.registration_id == ""
        assert "root:" not in src.last_error and "lollol" not in src.last_error
        with scopes_disabled():
            assert not GridSignal.objects.exists()
    finally:
        _stop_ven(loop, stop, running)
        server.shutdown()
