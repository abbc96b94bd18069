"""The one transition helper every move goes through, and the row lock and expected-state
check before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from enrollment.interconnection.models import ApplicationTransition, InterconnectionApplication
from enrollment.interconnection.services.clocks import move_clock
from enrollment.interconnection.services.errors import (
    InterconnectionError,
    StaleState,
    TransitionNotAllowed,
)
from portal import transitions
from portal.audit import actor_label, record
from portal.models import User
from portal.tasking import enqueue_on_commit

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track


def lock_application(application_id: int) -> Application:
    application = (
        Application.objects.select_for_update(of=("self",))
        .select_related(
            "utility", "service_account", "vehicle", "charger", "transformer", "installer", "ahj"
        )
        .filter(pk=application_id)
        .first()
    )
    if application is None:
        raise InterconnectionError("No such application.")
    return application


def check_expected(app: Application, *, field: str, expected: str | None) -> None:
    transitions.check_expected(
        app, expected=expected, noun="application", field=field, error=StaleState
    )


def apply_transition(
    app: Application,
    *,
    track: str,
    to: str,
    action: str,
    actor: User | None,
    now: datetime,
    comment: str = "",
    extra_fields: Sequence[str] = (),
) -> ApplicationTransition:
    field, allowed = (
        ("status", Application.ALLOWED)
        if track == Track.UTILITY
        else ("permit_status", Application.PERMIT_ALLOWED)
    )
    old = transitions.check_move(
        app, to=to, allowed=allowed, noun="an application", field=field, error=TransitionNotAllowed
    )
    setattr(app, field, to)
    app.updated_at = now
    app.save(update_fields=[field, "updated_at", *extra_fields])
    move_clock(app, track=track, old=old, new=to, now=now)
    transition = ApplicationTransition.objects.create(
        utility_id=app.utility_id,
        application=app,
        track=track,
        action=action,
        from_state=old,
        to_state=to,
        actor=actor,
        actor_label=actor_label(user=actor),
        comment=comment,
        created_at=now,
    )
    record(
        action=f"interconnection.{action}",
        utility=app.utility,
        obj=app,
        actor=actor,
        from_state=old,
        to_state=to,
        comment=comment,
    )
    from enrollment.interconnection.tasks import notify_transition

    enqueue_on_commit(notify_transition, utility_id=app.utility_id, transition_id=transition.pk)
    return transition
