"""Helpers for the OpenADR 3 tests: a source pointed at the loopback VTN, events shaped as
the 3.0.1 document has them, and one poll of the VEN."""

from __future__ import annotations

from datetime import datetime, timedelta

from django_scopes import scopes_disabled

from dispatch.grid.openadr3 import credentials
from dispatch.grid.openadr3.runner import active_sources, make_client, poll_source
from dispatch.models import GridSignalSource, OpenADR3Link
from tests.dispatch.grid_support import route
from tests.dispatch.openadr3_vtn import CLIENT_ID, CLIENT_SECRET, LoopbackVtn


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def source(utility, vtn: LoopbackVtn, *, name="ISO OpenADR 3", secret=CLIENT_SECRET, **link):
    with scopes_disabled():
        src = GridSignalSource.objects.create(
            utility=utility,
            name=name,
            protocol=GridSignalSource.Protocol.OPENADR_3,
            vtn_url=vtn.url,
            ven_name=f"{utility.slug}-portal",
        )
        OpenADR3Link.objects.create(
            utility=utility,
            source=src,
            token_url=vtn.token_url,
            client_id=CLIENT_ID,
            client_secret_sealed=credentials.seal(secret),
            callback_token=credentials.new_callback_token(),
            **link,
        )
    return src


def routed(utility, vtn: LoopbackVtn, program, *, program_name="peak-relief", **link):
    """A source, the VTN's program and the route from it to ``program``."""
    src = source(utility, vtn, **link)
    vtn_program = vtn.add_program(program_name)
    route(src, program, market_context=program_name)
    return src, vtn_program


def intervals(starts_at: datetime, payload_type: str, values: list, *, minutes=30) -> dict:
    """An event's ``intervalPeriod`` and back-to-back ``intervals``, one value each."""
    return {
        "intervalPeriod": {"start": iso(starts_at), "duration": f"PT{minutes}M"},
        "intervals": [
            {"id": n, "payloads": [{"type": payload_type, "values": [value]}]}
            for n, value in enumerate(values)
        ],
    }


def kw_descriptor(payload_type: str, units="KW") -> dict:
    return {"payloadDescriptors": [{"payloadType": payload_type, "units": units}]}


class Ven:
    """The VEN's view of one source: ``poll()`` runs one poll as ``run_ven3`` would, with the
    same client (and token) from one poll to the next."""

    def __init__(self, src: GridSignalSource):
        (self.config,) = [c for c in active_sources() if c.pk == src.pk]
        self.client = make_client(self.config)

    def poll(self, **kw) -> None:
        poll_source(self.config, self.client, **kw)


def link_of(src) -> OpenADR3Link:
    with scopes_disabled():
        return OpenADR3Link.objects.get(source=src)


def callback_url(live_server, src) -> str:
    return f"{live_server.url}/openadr3/callbacks/{link_of(src).callback_token}"


def bearer(src) -> str:
    return credentials.callback_bearer(link_of(src).callback_token)


def later(minutes: int, *, now: datetime) -> datetime:
    return (now + timedelta(minutes=minutes)).replace(second=0, microsecond=0)
