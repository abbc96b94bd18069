"""The OpenADR 3 VEN's loop (``manage.py run_ven3``, started by ``run_portal``): every
``OPENADR3_POLL_SECONDS`` each active OpenADR 3 source is polled (``poll_source``):

1. the VTN's programs are read and kept on the source (a callback names only a programID);
2. the VEN object is found or created under the source's VEN name (its id kept);
3. with ``OPENADR3_CALLBACK_BASE_URL`` set, each routed VTN program gets a subscription for
   PROGRAM and EVENT create / update / delete callbacks to our webhook, with its bearer token
   (created, or updated when the URL or token changed);
4. every event is read and handed to ``events.receive_event`` (an event version already seen,
   e.g. through a callback, changes nothing); an event the portal follows that the VTN no
   longer lists was deleted there and is withdrawn here;
5. each followed event is moved to the kW of the interval in force (``follow_intervals``);
6. reports the VTN asked for are posted once their event has ended (``reports``).

A poll that fails (token refused, VTN down, garbage) is recorded on the source (last error and
its time, registration state) and retried with exponential backoff (from the poll interval up
to ``OPENADR3_MAX_BACKOFF_SECONDS``); a success records the time of the last successful poll.
The loop never stops for a source's failure while the process lives.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from devices.adapters.webhook import EndpointNotAllowed, check_endpoint
from dispatch.grid.openadr3 import credentials, events, reports
from dispatch.grid.openadr3.client import Exchange, VtnClient, VtnError
from dispatch.grid.openadr3.credentials import SealBroken
from dispatch.models import (
    GridSignalRoute,
    GridSignalSource,
    OpenADR3EventVersion,
    OpenADR3Link,
)
from dispatch.services import grid_messages

logger = logging.getLogger(__name__)
Direction, Validation = grid_messages.Direction, grid_messages.Validation
Registration = GridSignalSource.Registration
OPERATIONS = ["CREATE", "UPDATE", "DELETE"]
OBJECTS = ["PROGRAM", "EVENT"]


@dataclass(frozen=True)
class SourceConfig:
    pk: int
    utility_id: int
    vtn_url: str
    token_url: str
    client_id: str
    client_secret_sealed: str
    ven_name: str
    callback_token: str

    @property
    def key(self) -> tuple:
        return (self.vtn_url, self.token_url, self.client_id, self.client_secret_sealed)


def active_sources() -> list[SourceConfig]:
    # The VEN serves every utility's sources: ids and settings across tenants, explicitly.
    with scopes_disabled():
        rows = OpenADR3Link.objects.filter(
            source__active=True, source__protocol=GridSignalSource.Protocol.OPENADR_3
        ).select_related("source")
        return [
            SourceConfig(
                link.source_id,
                link.utility_id,
                link.source.vtn_url,
                link.token_url,
                link.client_id,
                link.client_secret_sealed,
                link.source.ven_name,
                link.callback_token,
            )  # fmt: skip
            for link in rows.order_by("source_id")
        ]


def callback_url(config: SourceConfig) -> str:
    base = settings.OPENADR3_CALLBACK_BASE_URL.rstrip("/")
    if not base or not config.callback_token:
        return ""
    return base + reverse("openadr3_callback", args=[config.callback_token])


def log_exchange(source_id: int, exchange: Exchange) -> None:
    """An exchange with the VTN into the source's message log: the request (out) and the
    answer (in), with what went wrong."""
    with scopes_disabled():
        source = GridSignalSource.objects.get(pk=source_id)
    label = f"{exchange.method} {urlsplit(exchange.url).path.rsplit('/', 1)[-1]}"
    name = f"{exchange.operation} ({label})"[:80]
    if exchange.request_body is not None or exchange.method != "GET":
        grid_messages.record_message(
            source=source, direction=Direction.OUT, message_type=name,
            body=_dump(exchange.request_body), summary=f"{exchange.method} {exchange.url}",
        )  # fmt: skip
    else:
        grid_messages.record_message(
            source=source, direction=Direction.OUT, message_type=name, body="",
            summary=f"{exchange.method} {exchange.url}",
        )  # fmt: skip
    status = exchange.status if exchange.status is not None else "no answer"
    grid_messages.record_message(
        source=source,
        direction=Direction.IN,
        message_type=f"{exchange.operation} answer"[:80],
        body=_dump(exchange.response_body),
        validation=Validation.INVALID if exchange.error else Validation.VALID,
        errors=[exchange.error] if exchange.error else [],
        summary=f"{status}: {exchange.error or 'OK'}",
    )


def _dump(body) -> str:
    if body is None:
        return ""
    return json.dumps(body, indent=1, sort_keys=True, default=str)


def make_client(config: SourceConfig) -> VtnClient:
    try:
        base = check_endpoint(config.vtn_url)
        token_url = check_endpoint(config.token_url)
    except EndpointNotAllowed as refused:
        raise VtnError(VtnError.REFUSED, str(refused)) from None
    try:
        secret = credentials.unseal(config.client_secret_sealed)
    except SealBroken as broken:
        raise VtnError(VtnError.TOKEN, str(broken)) from None
    return VtnClient(
        base_url=base,
        token_url=token_url,
        client_id=config.client_id,
        client_secret=secret,
        timeout_seconds=settings.OPENADR3_TIMEOUT_SECONDS,
        on_exchange=lambda exchange: log_exchange(config.pk, exchange),
    )


def record_failure(pk: int, failure: VtnError) -> None:
    """On the source page: the reason and its time; a refused token means the VEN is not
    signed in (refused), any other failure leaves the registration as it was."""
    if failure.kind == VtnError.TOKEN:
        grid_messages.note_registration(pk, Registration.REFUSED, error=str(failure))
    else:
        grid_messages.note_failure(pk, str(failure))


def poll_source(config: SourceConfig, client: VtnClient, *, now: datetime | None = None) -> None:
    """One poll of one source; raises ``VtnError`` (after recording it) when it fails."""
    now = now or timezone.now()
    try:
        _poll(config, client, now=now)
    except VtnError as failure:
        record_failure(config.pk, failure)
        raise
    grid_messages.note_poll_succeeded(config.pk)


def _poll(config: SourceConfig, client: VtnClient, *, now: datetime) -> None:
    programs = client.programs()
    known = {
        p["id"]: {"programName": p.get("programName"), "modified": p.get("modificationDateTime")}
        for p in programs
        if isinstance(p.get("id"), str)
    }
    with scopes_disabled():
        source = GridSignalSource.objects.get(pk=config.pk)
    with scopes_disabled():
        OpenADR3Link.objects.filter(source_id=config.pk).update(vtn_programs=known)
    if not source.ven_id or source.registration_state != Registration.REGISTERED:
        ven = client.ven_named(config.ven_name) or client.create_ven(config.ven_name)
        grid_messages.note_registration(
            config.pk, Registration.REGISTERED, ven_id=str(ven.get("id") or "")
        )
    subscriptions = _subscribe(config, client, source, known)
    with scopes_disabled():
        OpenADR3Link.objects.filter(source_id=config.pk).update(subscription_ids=subscriptions)
    listed = client.events()
    for item in listed:
        outcome = events.receive_event(config.pk, item, now=now)
        if not outcome.repeated:  # what the poll's events came to, in the message log
            grid_messages.record_message(
                source=source, direction=Direction.IN, message_type="event (polled)",
                body=_dump(item), summary=f"{outcome.response}: {outcome.message}",
                vtn_event_id=str(item.get("id") or "")[:100],
            )  # fmt: skip
    listed_ids = {item.get("id") for item in listed}
    with scope(utility=config.utility_id):
        followed = events.followed_event_ids(source)
    for gone in sorted(followed - listed_ids):
        events.receive_deleted(config.pk, gone, now=now)
    events.follow_intervals(config.pk, now=now)
    _post_reports(config, client, now=now)


def _subscribe(config, client: VtnClient, source: GridSignalSource, known: dict) -> dict:
    url = callback_url(config)
    if not url:
        return {}
    with scope(utility=config.utility_id):
        routed = set(
            GridSignalRoute.objects.filter(source=source).values_list("market_context", flat=True)
        )
    wanted = {pid for pid, p in known.items() if p["programName"] in routed}
    bearer = credentials.callback_bearer(config.callback_token)
    operations = [
        {"objects": OBJECTS, "operations": OPERATIONS, "callbackUrl": url, "bearerToken": bearer}
    ]
    existing = {s.get("programID"): s for s in client.subscriptions(config.ven_name)}
    ids = {}
    for program_id in sorted(wanted):
        body = {"clientName": config.ven_name, "programID": program_id,
                "objectOperations": operations}  # fmt: skip
        current = existing.get(program_id)
        if current is None:
            current = client.create_subscription(body)
        elif current.get("objectOperations") != operations:
            current = client.update_subscription(current["id"], body)
        ids[program_id] = str(current.get("id") or "")
    return ids


def _post_reports(config, client: VtnClient, *, now: datetime) -> None:
    """Each followed event version that asked for reports, once its event has ended."""
    delay = timedelta(minutes=settings.OPENADR3_REPORT_DELAY_MINUTES)
    with scope(utility=config.utility_id):
        due = (
            OpenADR3EventVersion.objects.filter(
                source_id=config.pk,
                reported_at__isnull=True,
                signal__response=events.ACCEPTED,
                signal__event__cancelled_at__isnull=True,
                signal__event__ends_at__lte=now - delay,
            )
            .exclude(report_requests=[])
            .select_related("signal__event")
            .order_by("pk")
        )
        for version in due:
            report = reports.build_report(
                version=version, event=version.signal.event, client_name=config.ven_name,
                program_id=version.vtn_program_id,
            )  # fmt: skip
            if report is not None:
                try:
                    client.create_report(report)
                except VtnError as refused:
                    if refused.kind == VtnError.UNREACHABLE:
                        raise  # the next poll sends it again
                    # Refused or answered with garbage: logged with the exchange; sending the
                    # same report again would be refused again.
                    logger.warning("OpenADR 3 source %s: report refused: %s", config.pk, refused)
            OpenADR3EventVersion.objects.filter(pk=version.pk).update(reported_at=now)


class Ven3Runner:
    """Polls every active OpenADR 3 source until ``stop`` is set."""

    def __init__(self, *, poll_seconds: float | None = None, max_backoff: float | None = None):
        self.poll_seconds = poll_seconds or settings.OPENADR3_POLL_SECONDS
        self.max_backoff = max_backoff or settings.OPENADR3_MAX_BACKOFF_SECONDS
        self.clients: dict[int, tuple[tuple, VtnClient]] = {}
        self.failures: dict[int, int] = {}
        self.due: dict[int, float] = {}

    def backoff(self, pk: int) -> float:
        """Seconds until the next try after ``failures`` failures in a row (jittered)."""
        failures = self.failures.get(pk, 0)
        if not failures:
            return self.poll_seconds
        delay = min(self.max_backoff, self.poll_seconds * 2 ** (failures - 1))
        return delay * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not security

    def step(self) -> None:
        """Poll each source that is due."""
        configs = {c.pk: c for c in active_sources()}
        for pk in list(self.clients):
            if pk not in configs:
                self.clients.pop(pk)
        for pk, config in configs.items():
            if time.monotonic() < self.due.get(pk, 0.0):
                continue
            try:
                key, client = self.clients.get(pk, (None, None))
                if key != config.key:
                    self.failures.pop(pk, None)  # changed settings: try at once
                    try:
                        client = make_client(config)
                    except VtnError as failure:
                        record_failure(pk, failure)
                        raise
                    self.clients[pk] = (config.key, client)
                poll_source(config, client)
                self.failures.pop(pk, None)
            except VtnError as failure:
                self.failures[pk] = self.failures.get(pk, 0) + 1
                logger.warning("OpenADR 3 source %s: %s", pk, failure)
            self.due[pk] = time.monotonic() + self.backoff(pk)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                close_old_connections()
                try:
                    self.step()
                except Exception:  # one bad poll must not end the VEN
                    logger.exception("OpenADR 3 VEN: a poll failed unexpectedly")
                stop.wait(min(1.0, self.poll_seconds))
        finally:
            close_old_connections()
