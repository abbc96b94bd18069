"""Celery tasks that execute events: plan and issue commands once an event is notified.

Beat runs ``dispatch.activate_due_events`` every minute; it enqueues one
``dispatch.activate_event`` per due, unplanned event. Both are idempotent: an event already
planned for its modification number issues nothing new.
"""

from __future__ import annotations

from django.db.models import CharField, Exists, OuterRef
from django.db.models.functions import Cast
from django.utils import timezone
from django_scopes import scopes_disabled

from devices.models import DeviceCommand
from dispatch import execution
from dispatch.models import Event
from portal.celery import app
from portal.tasking import PlatformTask, TenantTask

DUE_BATCH_SIZE = 500


@app.task(bind=True, base=TenantTask, name="dispatch.activate_event")
def activate_event(self, *, utility_id: int, event_id: int) -> dict:
    result = execution.activate_event(event_id=event_id)
    return {"status": result.status, "created": result.created, "vehicles": result.vehicles}


@app.task(bind=True, base=TenantTask, name="dispatch.restore_event")
def restore_event(self, *, utility_id: int, event_id: int) -> int:
    """Send restore commands to every vehicle of a cancelled or ended-early event."""
    return execution.cancel_or_end(event_id=event_id).created


@app.task(bind=True, base=PlatformTask, name="dispatch.activate_due_events")
def activate_due_events(self, *, batch_size: int = DUE_BATCH_SIZE) -> int:
    """Enqueue ``dispatch.activate_event`` for up to ``batch_size`` notified or active events
    of any utility with no commands yet for their current modification number (the rest go
    on the next run, oldest notice first)."""
    now = timezone.now()
    # A platform fan-out: it reads ids across utilities, explicitly, and acts in none.
    with scopes_disabled():
        planned = DeviceCommand.objects.filter(
            utility_id=OuterRef("utility_id"),
            source_type=execution.SOURCE_TYPE,
            source_id=Cast(OuterRef("pk"), output_field=CharField()),
            revision=OuterRef("modification_number"),
        )
        due = list(
            Event.objects.filter(
                Event.status_q(Event.Status.NOTIFIED, now)
                | Event.status_q(Event.Status.ACTIVE, now)
            )
            .exclude(event_type=Event.Type.PRICE_SIGNAL)
            .filter(~Exists(planned))
            .order_by("notify_at", "pk")
            .values_list("utility_id", "pk", "modification_number")
        )
        # Planned with nothing to send (no commands, an audit row): few, filtered here.
        revisions = execution.planned_revisions([pk for _, pk, _ in due])
    due = [
        (utility_id, pk)
        for utility_id, pk, revision in due
        if revision not in revisions.get(pk, ())
    ][:batch_size]
    for utility_id, event_id in due:
        activate_event.delay(utility_id=utility_id, event_id=event_id)
    return len(due)
