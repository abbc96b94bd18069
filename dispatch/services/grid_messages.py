"""Writes of the grid protocol message log and of a source's health, for every protocol's VEN
(OpenADR 2.0b in ``dispatch.grid.oadr2b``, OpenADR 3 beside it).

The VEN runs for every utility at once, outside any tenant scope: these functions take the
source (or its id) and write its utility's rows explicitly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone
from django_scopes import scopes_disabled

from dispatch.models import Event, GridMessage, GridSignal, GridSignalSource

Direction = GridMessage.Direction
Validation = GridMessage.Validation
MAX_ERRORS = 20
MAX_ERROR_CHARS = 500


def _text(body: str | bytes | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    # PostgreSQL text cannot hold NUL; a hostile peer's NUL must not make the log fail.
    return body.replace("\x00", "\ufffd")


def record_message(
    *,
    source: GridSignalSource,
    direction: str,
    message_type: str,
    body: str | bytes | None,
    validation: str = Validation.NOT_CHECKED,
    errors: Sequence[str] = (),
    summary: str = "",
    vtn_event_id: str = "",
    signal: GridSignal | None = None,
    event: Event | None = None,
    protocol: str | None = None,
    at: datetime | None = None,
) -> GridMessage:
    """Append one message to the source's log. The body is kept up to
    ``GridMessage.MAX_BODY_CHARS`` characters (``body_truncated`` says when it was cut), the
    errors up to ``MAX_ERRORS`` lines."""
    text = _text(body)
    message = GridMessage(
        utility_id=source.utility_id,
        source=source,
        direction=Direction(direction),
        protocol=protocol or source.protocol,
        message_type=message_type[:80],
        body=text[: GridMessage.MAX_BODY_CHARS],
        body_truncated=len(text) > GridMessage.MAX_BODY_CHARS,
        validation=Validation(validation),
        errors=[_text(str(e))[:MAX_ERROR_CHARS] for e in list(errors)[:MAX_ERRORS]],
        summary=_text(summary)[:500],
        vtn_event_id=vtn_event_id[:100],
        signal=signal,
        event=event,
        created_at=at or timezone.now(),
    )
    # Model.save inserts through the base manager: no tenant scope is needed for the insert.
    message.save()
    return message


def _update(source_id: int, **fields) -> None:
    with scopes_disabled():
        GridSignalSource.objects.filter(pk=source_id).update(updated_at=timezone.now(), **fields)


def note_poll_succeeded(source_id: int, *, at: datetime | None = None) -> None:
    """The VTN answered a poll with a valid message: the source is healthy now."""
    at = at or timezone.now()
    _update(source_id, last_successful_poll_at=at, last_contact_at=at, last_error="")


def note_failure(source_id: int, error: str, *, at: datetime | None = None) -> None:
    """A poll, a registration or a message failed; the reason is kept for the source page."""
    _update(source_id, last_error=_text(error)[:500], last_error_at=at or timezone.now())


def note_registration(
    source_id: int,
    state: str,
    *,
    ven_id: str | None = None,
    registration_id: str | None = None,
    error: str = "",
    at: datetime | None = None,
) -> None:
    """The registration changed (registered, refused, cancelled by the VTN, …)."""
    at = at or timezone.now()
    fields: dict = {"registration_state": GridSignalSource.Registration(state)}
    if ven_id is not None:
        fields["ven_id"] = ven_id[:100]
    if registration_id is not None:
        fields["registration_id"] = registration_id[:100]
    if error:
        fields.update(last_error=_text(error)[:500], last_error_at=at)
    elif state == GridSignalSource.Registration.REGISTERED:
        fields.update(last_error="", last_contact_at=at)
    _update(source_id, **fields)
