"""The portal as an OpenADR 2.0b VEN: one OpenLEADR client per active ``GridSignalSource``,
polling its VTN (HTTP pull) and answering each event with what ``openadr`` made of it.

``VenRunner.run`` keeps the clients in line with the sources: every ``reload_seconds`` it
starts clients for new or changed sources, stops those of sources removed or switched off,
and retries sources whose VTN could not be reached or refused the registration (the reason
is kept in ``last_error``). The VEN id and registration id the VTN assigns are stored on the
source, so a restarted VEN registers as itself. With ``OPENADR_VEN_CERT`` / ``_KEY`` the VEN
talks mutual TLS (the VTN's certificate checked against ``OPENADR_CA_FILE``) and signs its
messages; a source's ``vtn_fingerprint`` makes it drop every VTN message not signed
by that certificate (OpenLEADR validates each against the OpenADR schema first). ``manage.py run_ven`` runs it; ``run_portal``
starts that beside the web server, worker and beat. One VEN process per deployment.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from functools import partial

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_scopes import scopes_disabled
from openleadr import OpenADRClient
from openleadr.utils import certificate_fingerprint

from devices.adapters.webhook import EndpointNotAllowed, check_endpoint
from dispatch.grid import openadr
from dispatch.models import GridSignalSource

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceConfig:
    pk: int
    vtn_url: str
    ven_name: str
    ven_id: str
    vtn_fingerprint: str

    @property
    def key(self) -> tuple:
        return (self.vtn_url, self.ven_name, self.vtn_fingerprint)


def ven_certificate_fingerprint() -> str:
    """The OpenADR fingerprint of the VEN's certificate (``OPENADR_VEN_CERT``), for the VTN's
    operator; empty when the VEN does not sign."""
    path = settings.OPENADR_VEN_CERT
    if not path:
        return ""
    try:
        with open(path) as pem:
            return certificate_fingerprint(pem.read())
    except (OSError, ValueError) as error:
        return f"(the certificate could not be read: {error})"


def active_sources() -> list[SourceConfig]:
    # The VEN serves every utility's sources: ids and settings across tenants, explicitly.
    with scopes_disabled():
        rows = GridSignalSource.objects.filter(
            active=True, protocol=GridSignalSource.Protocol.OPENADR_20B
        ).values_list("pk", "vtn_url", "ven_name", "ven_id", "vtn_fingerprint")
        return [SourceConfig(*row) for row in rows.order_by("pk")]


def _note(pk: int, **fields) -> None:
    with scopes_disabled():
        GridSignalSource.objects.filter(pk=pk).update(updated_at=timezone.now(), **fields)


class VenRunner:
    def __init__(self, *, reload_seconds: float = 30.0):
        self.reload_seconds = reload_seconds
        self.clients: dict[int, tuple[tuple, OpenADRClient]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.sync()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.reload_seconds)
                except TimeoutError:
                    pass
        finally:
            for pk in list(self.clients):
                await self._stop(pk)
            # The database connections of the thread the handlers ran in.
            await sync_to_async(connections.close_all)()

    async def sync(self) -> None:
        wanted = {s.pk: s for s in await sync_to_async(active_sources)()}
        for pk, (key, _) in list(self.clients.items()):
            if pk not in wanted or wanted[pk].key != key:
                await self._stop(pk)
        for pk, source in wanted.items():
            if pk not in self.clients:
                await self._start(source)

    async def _start(self, source: SourceConfig) -> None:
        try:
            url = check_endpoint(source.vtn_url)
        except EndpointNotAllowed as refused:
            await sync_to_async(_note)(source.pk, last_error=str(refused)[:500])
            return
        signing = bool(settings.OPENADR_VEN_CERT and settings.OPENADR_VEN_KEY)
        if signing and not (settings.OPENADR_CA_FILE and url.startswith("https://")):
            # OpenLEADR sends a certificate only over mutual TLS, checked against a CA file.
            await sync_to_async(_note)(
                source.pk,
                last_error="With a VEN certificate (OPENADR_VEN_CERT) the VTN must be on "
                "https:// and OPENADR_CA_FILE must name the CA that signed its certificate.",
            )
            return
        client = OpenADRClient(
            ven_name=source.ven_name,
            vtn_url=url,
            ven_id=source.ven_id or None,
            show_fingerprint=False,
            cert=settings.OPENADR_VEN_CERT if signing else None,
            key=settings.OPENADR_VEN_KEY if signing else None,
            passphrase=settings.OPENADR_VEN_KEY_PASSPHRASE or None,
            # Messages without this certificate's signature are dropped unread.
            vtn_fingerprint=source.vtn_fingerprint or None,
            ca_file=settings.OPENADR_CA_FILE or None,
        )
        handler = partial(self._on_event, source.pk)
        client.add_handler("on_event", handler)
        client.add_handler("on_update_event", handler)
        try:
            await client.run()
        except Exception as error:  # noqa: BLE001 - any failure is the VTN's or the network's
            logger.warning("Grid signal source %s: %s", source.pk, error)
            await self._close(client)
            await sync_to_async(_note)(
                source.pk, last_error=f"{type(error).__name__}: {error}"[:500]
            )
            return
        if not client.registration_id:
            await self._close(client)
            why = (
                "The VTN could not be reached, refused the registration or answered with a "
                "message that is not valid OpenADR"
                + (" signed by the expected certificate" if source.vtn_fingerprint else "")
                + "; trying again shortly."
            )
            await sync_to_async(_note)(source.pk, last_error=why)
            return
        self.clients[source.pk] = (source.key, client)
        await sync_to_async(_note)(
            source.pk,
            ven_id=client.ven_id or "",
            registration_id=client.registration_id or "",
            registration_state=GridSignalSource.Registration.REGISTERED,
            last_contact_at=timezone.now(),
            last_error="",
        )
        logger.info("Grid signal source %s: registered as VEN %s", source.pk, client.ven_id)

    async def _on_event(self, source_pk: int, event: dict) -> str:
        try:
            return await sync_to_async(openadr.receive_openadr_event)(source_pk, event)
        except Exception:  # the VTN gets an answer whatever happens here
            logger.exception("Grid signal source %s: the event could not be handled", source_pk)
            return openadr.OPT_OUT

    async def _stop(self, pk: int) -> None:
        _, client = self.clients.pop(pk)
        await self._close(client)

    @staticmethod
    async def _close(client: OpenADRClient) -> None:
        try:
            await client.stop()
        except Exception:  # noqa: BLE001 - a client that never connected has nothing to close
            logger.debug("closing an OpenADR client", exc_info=True)
