"""The portal as an OpenADR 2.0b VEN: one ``oadr2b_session.Session`` per active
``GridSignalSource``, polling its VTN (HTTP pull) and answering each event with what
``openadr`` made of it.

``VenRunner.run`` keeps the sessions in line with the sources: every ``reload_seconds`` it
starts sessions for new or changed sources, stops those of sources removed or switched off,
and starts again a session that ended — a VTN that could not be reached, refused the
registration (also on re-registration) or answered with something invalid is retried, the
reason kept on the source (``last_error``, ``last_error_at``, ``registration_state``). A
registration the VTN cancelled is not retried until staff ask for it on the source page. The
VEN id and registration id the VTN assigns are stored on the source, so a restarted VEN
registers as itself. With ``OPENADR_VEN_CERT`` / ``_KEY`` the VEN talks mutual TLS (the VTN's
certificate checked against ``OPENADR_CA_FILE``) and signs its messages; a source's
``vtn_fingerprint`` makes it refuse every VTN message not signed by that certificate.
``manage.py run_ven`` runs it; ``run_portal`` starts that beside the web server, worker and
beat. One VEN process per deployment.
"""

from __future__ import annotations

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django_scopes import scopes_disabled
from openleadr.utils import certificate_fingerprint

from devices.adapters.webhook import EndpointNotAllowed, check_endpoint
from dispatch.grid.oadr2b_session import ExchangeFailed, RegistrationEnded, Session, SourceConfig
from dispatch.models import GridSignalSource
from dispatch.services import grid_messages

logger = logging.getLogger(__name__)


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
        rows = (
            GridSignalSource.objects.filter(
                active=True, protocol=GridSignalSource.Protocol.OPENADR_20B
            )
            .exclude(registration_state=GridSignalSource.Registration.CANCELLED_BY_VTN)
            .values_list(
                "pk",
                "utility_id",
                "vtn_url",
                "ven_name",
                "ven_id",
                "registration_id",
                "vtn_fingerprint",
            )
        )
        return [SourceConfig(*row) for row in rows.order_by("pk")]


class VenRunner:
    def __init__(self, *, reload_seconds: float = 30.0):
        self.reload_seconds = reload_seconds
        # Registered sessions: source pk -> (its settings' key, session).
        self.clients: dict[int, tuple[tuple, Session]] = {}
        self.tasks: dict[int, tuple[asyncio.Task, asyncio.Event]] = {}

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                await self.sync()
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.reload_seconds)
                except TimeoutError:
                    pass
        finally:
            for pk in list(self.tasks):
                await self._stop(pk)
            # The database connections of the thread the handlers ran in.
            await sync_to_async(connections.close_all)()

    async def sync(self) -> None:
        wanted = {s.pk: s for s in await sync_to_async(active_sources)()}
        for pk, (task, _) in list(self.tasks.items()):
            key = self.clients.get(pk, ((),))[0]
            if task.done() or pk not in wanted or wanted[pk].key != key:
                await self._stop(pk)
        for pk, source in wanted.items():
            if pk not in self.tasks:
                await self._start(source)

    async def _start(self, source: SourceConfig) -> None:
        note_failure = sync_to_async(grid_messages.note_failure)
        try:
            check_endpoint(source.vtn_url)
        except EndpointNotAllowed as refused:
            await note_failure(source.pk, str(refused))
            return
        signs = bool(settings.OPENADR_VEN_CERT and settings.OPENADR_VEN_KEY)
        if signs and not (settings.OPENADR_CA_FILE and source.vtn_url.startswith("https://")):
            await note_failure(
                source.pk,
                "With a VEN certificate (OPENADR_VEN_CERT) the VTN must be on https:// and "
                "OPENADR_CA_FILE must name the CA that signed its certificate.",
            )
            return
        session = Session(source)
        try:
            await session.register()
        except (ExchangeFailed, RegistrationEnded) as error:
            await session.close()
            why = str(error)
            if isinstance(error, ExchangeFailed) and source.vtn_fingerprint:
                why += " (messages must be signed by the expected certificate)"
            await note_failure(source.pk, f"{why}; trying again shortly.")
            return
        except Exception as error:  # noqa: BLE001 - one source's failure never stops the VEN
            logger.exception("Grid signal source %s: registration failed", source.pk)
            await session.close()
            await note_failure(source.pk, f"{type(error).__name__}: {error}")
            return
        stop = asyncio.Event()
        self.clients[source.pk] = (source.key, session)
        self.tasks[source.pk] = (asyncio.create_task(self._run(session, stop)), stop)
        logger.info("Grid signal source %s: registered as VEN %s", source.pk, session.ven_id)

    async def _run(self, session: Session, stop: asyncio.Event) -> None:
        try:
            await session.run(stop)
        except RegistrationEnded as ended:
            logger.warning("Grid signal source %s: %s", session.config.pk, ended)
        except Exception as error:  # noqa: BLE001 - recorded, and the runner starts it again
            logger.exception("Grid signal source %s: the session failed", session.config.pk)
            await sync_to_async(grid_messages.note_failure)(
                session.config.pk, f"{type(error).__name__}: {error}"
            )
        finally:
            self.clients.pop(session.config.pk, None)
            await session.close()

    async def _stop(self, pk: int) -> None:
        task, stop = self.tasks.pop(pk)
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=30)
        except Exception:  # noqa: BLE001 - a session that will not end is cancelled
            task.cancel()
        self.clients.pop(pk, None)
