"""Writes on grid signal sources (the grid signal pages): an OpenADR VTN the VEN polls, and
which market context calls which program. Every change is audited."""

from __future__ import annotations

from django.db import transaction

from dispatch.models import Event, GridSignalRoute, GridSignalSource, OpenADR3Link
from dispatch.services.errors import SourceError
from enrollment.models import Program
from portal.audit import record

SOURCE_FIELDS = ("name", "protocol", "vtn_url", "ven_name", "vtn_fingerprint", "active")
# An OpenADR 3 source's own settings (``OpenADR3Link``); the client secret is never audited
# nor shown back, and left empty on an edit it stays as it was.
OPENADR3_FIELDS = ("token_url", "client_id", "client_secret", "dispatch_prices")


@transaction.atomic
def save_source(
    *, utility, source: GridSignalSource | None, actor, openadr3: dict | None = None, **fields
) -> GridSignalSource:
    """Create or change a source (call inside the utility's scope). The VTN must be on a host
    partners may be on (loopback unless ``ADAPTER_ALLOWED_HOSTS`` names it); a new VTN URL or
    VEN name registers afresh. An OpenADR 3 source needs ``openadr3`` (``OPENADR3_FIELDS``:
    the token URL, client id and secret). The VEN picks the change up within its reload
    interval."""
    from devices.adapters.webhook import EndpointNotAllowed, check_endpoint

    fields.setdefault(
        "protocol", source.protocol if source else GridSignalSource.Protocol.OPENADR_20B
    )
    try:
        check_endpoint(fields["vtn_url"])
    except EndpointNotAllowed as exc:
        raise SourceError(str(exc), field="vtn_url") from None
    if (
        GridSignalSource.objects.filter(name=fields["name"])
        .exclude(pk=source.pk if source else None)
        .exists()
    ):
        raise SourceError("There is already a source with this name.", field="name")
    created = source is None
    if created:
        source = GridSignalSource(utility=utility)
    before = {name: getattr(source, name) for name in SOURCE_FIELDS}
    if not created and (
        fields["vtn_url"] != source.vtn_url
        or fields["ven_name"] != source.ven_name
        or fields["protocol"] != source.protocol
    ):
        source.ven_id = source.registration_id = ""  # another VTN: register afresh
    for name in SOURCE_FIELDS:
        setattr(source, name, fields[name])
    source.save()
    changes = {
        name: [before[name], fields[name]]
        for name in SOURCE_FIELDS
        if created or before[name] != fields[name]
    }
    if source.protocol == GridSignalSource.Protocol.OPENADR_3:
        changes.update(_save_openadr3(source, openadr3 or {}))
    record(
        action="grid_source.created" if created else "grid_source.changed",
        utility=utility,
        obj=source,
        actor=actor,
        changes=changes,
    )
    return source


def _save_openadr3(source: GridSignalSource, settings: dict) -> dict:
    """Create or change the source's ``OpenADR3Link``; the audited changes (the secret only
    as "changed")."""
    from devices.adapters.webhook import EndpointNotAllowed, check_endpoint
    from dispatch.grid.openadr3 import credentials

    link = OpenADR3Link.objects.filter(source=source).first()
    token_url = (settings.get("token_url") or "").strip()
    client_id = (settings.get("client_id") or "").strip()
    secret = settings.get("client_secret") or ""
    if not token_url:
        raise SourceError("An OpenADR 3 source needs the VTN's token URL.", field="token_url")
    try:
        check_endpoint(token_url)
    except EndpointNotAllowed as exc:
        raise SourceError(str(exc), field="token_url") from None
    if not client_id:
        raise SourceError("An OpenADR 3 source needs its client id.", field="client_id")
    if not secret and (link is None or not link.client_secret_sealed):
        raise SourceError("An OpenADR 3 source needs its client secret.", field="client_secret")
    if link is None:
        link = OpenADR3Link(
            utility_id=source.utility_id, source=source,
            callback_token=credentials.new_callback_token(),
        )  # fmt: skip
    before = {"token_url": link.token_url, "client_id": link.client_id,
              "dispatch_prices": link.dispatch_prices}  # fmt: skip
    link.token_url, link.client_id = token_url, client_id
    link.dispatch_prices = bool(settings.get("dispatch_prices"))
    if secret:
        link.client_secret_sealed = credentials.seal(secret)
    link.save()
    changes = {
        name: [before[name], getattr(link, name)]
        for name in before
        if before[name] != getattr(link, name)
    }
    if secret:
        changes["client_secret"] = "changed"  # noqa: S105 - the audit says so, never the value
    return changes


@transaction.atomic
def add_route(
    *, source: GridSignalSource, market_context: str, program: Program, event_type: str, actor
) -> GridSignalRoute:
    market_context = market_context.strip()
    if not market_context:
        raise SourceError("Name the market context, e.g. oadr://iso/peak.", field="market_context")
    if GridSignalRoute.objects.filter(source=source, market_context=market_context).exists():
        raise SourceError(
            f"{market_context} already calls a program; remove that route first.",
            field="market_context",
        )
    if event_type and event_type == Event.Type.PRICE_SIGNAL:
        raise SourceError(
            "Price signals are not dispatched; pick another type.", field="event_type"
        )
    route = GridSignalRoute.objects.create(
        utility_id=source.utility_id,
        source=source,
        market_context=market_context,
        program=program,
        event_type=event_type,
    )
    record(
        action="grid_source.route_added",
        utility=source.utility,
        obj=source,
        actor=actor,
        changes={
            "market_context": market_context,
            "program": program.name,
            "event_type": event_type or "(the program's kind)",
        },
    )
    return route


@transaction.atomic
def remove_route(*, route: GridSignalRoute, actor) -> None:
    source = route.source
    record(
        action="grid_source.route_removed",
        utility=source.utility,
        obj=source,
        actor=actor,
        changes={"market_context": route.market_context, "program": route.program.name},
    )
    route.delete()


@transaction.atomic
def register_again(*, source: GridSignalSource, actor) -> None:
    """Ask the VEN to register with a VTN that cancelled (or refused) the registration; it does
    so within its reload interval."""
    locked = GridSignalSource.objects.select_for_update().get(pk=source.pk)
    allowed = {
        GridSignalSource.Registration.CANCELLED_BY_VTN,
        GridSignalSource.Registration.REFUSED,
    }
    if locked.registration_state not in allowed:
        raise SourceError(
            f"The source is {locked.get_registration_state_display().lower()}; "
            "there is nothing to register again."
        )
    before = locked.registration_state
    locked.registration_state = GridSignalSource.Registration.UNREGISTERED
    locked.save(update_fields=["registration_state", "updated_at"])
    record(
        action="grid_source.register_again",
        utility=locked.utility,
        obj=locked,
        actor=actor,
        from_state=before,
        to_state=locked.registration_state,
    )
