"""Opt schedules a source's VEN sends its VTN (``GridOpt``): staff declare a planned
unavailability window or opt out of an event the VEN had opted in to, and may cancel either;
the VEN (``dispatch.grid.oadr2b_session``) sends what is pending after its next poll and
records the VTN's answer here. Every change is a compare-and-set on the state (``ALLOWED``)
and is audited."""

from __future__ import annotations

from datetime import datetime
from uuid import uuid4

from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from dispatch.models import GridEvent, GridOpt, GridSignalSource
from dispatch.services.errors import SourceError
from portal.audit import record

State = GridOpt.State


def _audit(opt: GridOpt, *, action: str, actor, from_state: str, comment: str = "") -> None:
    record(
        action=action,
        utility=opt.source.utility,
        obj=opt.source,
        actor=actor,
        from_state=from_state,
        to_state=opt.state,
        comment=comment[:500],
        changes={"opt_id": opt.opt_id, "kind": opt.kind},
    )


@transaction.atomic
def plan_unavailability(
    *, source: GridSignalSource, starts_at: datetime, ends_at: datetime, note: str, actor,
    now: datetime | None = None,
) -> GridOpt:  # fmt: skip
    """The fleet behind this source will not be available from ``starts_at`` to ``ends_at``."""
    now = now or timezone.now()
    if ends_at <= starts_at:
        raise SourceError("The window must end after it starts.", field="ends_at")
    if ends_at <= now:
        raise SourceError("The window is already over.", field="ends_at")
    opt = GridOpt.objects.create(
        utility_id=source.utility_id, source=source, opt_id=f"opt-{uuid4().hex}",
        kind=GridOpt.Kind.UNAVAILABLE, opt_reason="x-schedule", starts_at=starts_at,
        ends_at=ends_at, note=note[:300], created_by=actor, created_at=now,
    )  # fmt: skip
    _audit(opt, action="grid_opt.created", actor=actor, from_state="", comment=note)
    return opt


@transaction.atomic
def opt_out_of_event(
    *, grid_event: GridEvent, expected_modification: int, note: str, actor,
    now: datetime | None = None,
) -> GridOpt:  # fmt: skip
    """Opt out of an event the VEN had opted in to (customers opting out in bulk, a fleet
    problem): the VTN is told with ``oadrCreateOpt`` naming the event."""
    now = now or timezone.now()
    grid_event = GridEvent.objects.select_for_update(of=("self",)).get(pk=grid_event.pk)
    if grid_event.modification_number != expected_modification:
        raise SourceError(
            f"The VTN changed the event since the page was loaded (now modification "
            f"{grid_event.modification_number}); nothing was sent. Check it and try again."
        )
    if grid_event.response != GridEvent.Response.OPT_IN:
        raise SourceError("The VEN did not opt in to this event; there is nothing to opt out of.")
    if grid_event.ends_at is not None and grid_event.ends_at <= now:
        raise SourceError("The event is over.")
    if grid_event.opts.filter(state__in=[State.PENDING, State.ACKNOWLEDGED]).exists():
        raise SourceError("The VEN has already opted out of this event.")
    opt = GridOpt.objects.create(
        utility_id=grid_event.utility_id, source=grid_event.source, opt_id=f"opt-{uuid4().hex}",
        kind=GridOpt.Kind.EVENT_OPT_OUT, opt_reason="notParticipating", grid_event=grid_event,
        vtn_event_id=grid_event.vtn_event_id,
        modification_number=grid_event.modification_number, note=note[:300], created_by=actor,
        created_at=now,
    )  # fmt: skip
    _audit(opt, action="grid_opt.created", actor=actor, from_state="", comment=note)
    return opt


@transaction.atomic
def cancel(*, opt: GridOpt, expected_state: str, actor) -> GridOpt:
    """Withdraw an opt: never sent, it is simply cancelled; acknowledged, the VEN sends
    ``oadrCancelOpt``."""
    locked = GridOpt.objects.select_for_update(of=("self",)).select_related("source__utility")
    locked = locked.get(pk=opt.pk)
    before = locked.state
    if before != expected_state:
        raise SourceError(f"The opt is {locked.get_state_display().lower()} now; nothing was done.")
    target = {State.PENDING: State.CANCELLED, State.ACKNOWLEDGED: State.CANCEL_PENDING}.get(before)
    if target is None:
        raise SourceError(
            f"An opt that is {locked.get_state_display().lower()} cannot be cancelled."
        )
    locked.state = target
    locked.save(update_fields=["state"])
    _audit(locked, action="grid_opt.cancelled", actor=actor, from_state=before)
    return locked


# -- what the VEN does with them (outside any tenant scope: one process for every utility) --


def to_send(source_id: int) -> list[GridOpt]:
    with scopes_disabled():
        return list(
            GridOpt.objects.filter(
                source_id=source_id, state__in=[State.PENDING, State.CANCEL_PENDING]
            ).order_by("created_at", "pk")
        )


def answered(opt_pk: int, *, from_state: str, to_state: str, error: str = "") -> bool:
    """Record the VTN's answer (compare-and-set: False when the opt changed meanwhile)."""
    if to_state not in GridOpt.ALLOWED[from_state]:
        raise ValueError(f"{from_state} → {to_state} is not a move of an opt.")
    with scopes_disabled():
        utility_id = GridOpt.objects.values_list("utility_id", flat=True).get(pk=opt_pk)
    with scope(utility=utility_id), transaction.atomic():
        changed = GridOpt.objects.filter(pk=opt_pk, state=from_state).update(
            state=to_state, last_error=error[:500], sent_at=timezone.now()
        )
        if changed == 1:
            opt = GridOpt.objects.select_related("source__utility").get(pk=opt_pk)
            _audit(
                opt, action="grid_opt.answered", actor=None, from_state=from_state, comment=error
            )
    return changed == 1
