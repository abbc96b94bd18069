"""Grid signals: the grid operators' systems that call events (sources), which program each
market context calls (routes), every event modification received and the answer (signals),
each VTN event as the VEN knows it now (grid events) and every protocol message exchanged
(the message log)."""

from __future__ import annotations

from django.db import models

from dispatch.models.events import Event
from portal.models import TenantOwned


class GridSignalSource(TenantOwned):
    """A grid operator's system that calls events: the portal talks to it as a VEN
    (``dispatch.grid``) and turns its events into the utility's events.

    Health is stored as it happens, never inferred on the page: the last poll the VTN answered
    with a valid message, the last failure (when and why), and the registration state."""

    class Protocol(models.TextChoices):
        OPENADR_20B = "openadr_2.0b", "OpenADR 2.0b (VEN, HTTP pull)"
        OPENADR_3 = "openadr_3", "OpenADR 3.0 (VEN, REST)"

    class Registration(models.TextChoices):
        UNREGISTERED = "unregistered", "Not registered"
        REGISTERED = "registered", "Registered"
        REFUSED = "refused", "Registration refused by the VTN"
        CANCELLED_BY_VTN = "cancelled_by_vtn", "Registration cancelled by the VTN"

    name = models.CharField(max_length=120)
    protocol = models.CharField(
        max_length=20, choices=Protocol.choices, default=Protocol.OPENADR_20B
    )
    vtn_url = models.URLField(
        max_length=300, help_text="e.g. http://127.0.0.1:8080/OpenADR2/Simple/2.0b"
    )
    ven_name = models.CharField(max_length=100, help_text="The name this portal registers under.")
    # When set, every message from the VTN must carry an XML signature by this certificate.
    vtn_fingerprint = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)
    # Assigned by the VTN when the VEN registers.
    ven_id = models.CharField(max_length=100, blank=True)
    registration_id = models.CharField(max_length=100, blank=True)
    registration_state = models.CharField(
        max_length=20, choices=Registration.choices, default=Registration.UNREGISTERED
    )
    last_contact_at = models.DateTimeField(null=True, blank=True)
    # The last poll the VTN answered with a valid message (events or nothing new).
    last_successful_poll_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["utility", "name"], name="unique_grid_source_name")
        ]

    def __str__(self) -> str:
        return self.name


class GridSignalRoute(TenantOwned):
    """Which program (and event type) a source's market context calls."""

    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="routes")
    market_context = models.CharField(max_length=200, help_text="e.g. oadr://pvp/peak-relief")
    program = models.ForeignKey("enrollment.Program", on_delete=models.PROTECT, related_name="+")
    event_type = models.CharField(
        max_length=24,
        choices=Event.Type.choices,
        blank=True,
        help_text="Empty: the program's kind decides (V1G load reduction, V2H home supply, "
        "V2G export).",
    )

    class Meta:
        ordering = ["market_context"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "market_context"], name="unique_grid_route_context"
            )
        ]

    def __str__(self) -> str:
        return f"{self.market_context} → {self.program_id}"


class GridSignal(TenantOwned):
    """One event (one modification of it) a source sent, what it said and what the portal
    answered: the log that makes a repeated delivery get the same answer."""

    class Response(models.TextChoices):
        OPT_IN = "optIn", "Opted in"
        OPT_OUT = "optOut", "Opted out"

    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="signals")
    vtn_event_id = models.CharField(max_length=100)
    modification_number = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField()
    market_context = models.CharField(max_length=200, blank=True)
    vtn_status = models.CharField(max_length=20, blank=True)  # far, near, active, cancelled…
    starts_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    target_kw = models.FloatField(null=True, blank=True)
    # The target interval by interval as the VTN asked it (``Event.target_profile``'s shape,
    # offsets from ``starts_at``): a later modification is compared with it.
    target_profile = models.JSONField(default=list, blank=True)
    test_event = models.BooleanField(default=False)
    response = models.CharField(max_length=6, choices=Response.choices)
    outcome = models.CharField(max_length=500)
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="grid_signals"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "vtn_event_id", "modification_number"],
                name="unique_grid_signal_modification",
            )
        ]

    def __str__(self) -> str:
        return f"{self.vtn_event_id} #{self.modification_number} ({self.response})"


class GridEvent(TenantOwned):
    """One VTN event as the VEN knows it now (its latest modification): what the VTN says of it,
    what the portal answered, and the portal event that follows it. ``GridSignal`` keeps every
    modification; this row is the state the next message is compared with (an event the VTN
    stops listing is cancelled by implication, ``implied_cancel_at``)."""

    class Response(models.TextChoices):
        OPT_IN = "optIn", "Opted in"
        OPT_OUT = "optOut", "Opted out"

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(
        GridSignalSource, on_delete=models.CASCADE, related_name="grid_events"
    )
    vtn_event_id = models.CharField(max_length=100)
    modification_number = models.PositiveIntegerField(default=0)
    market_context = models.CharField(max_length=200, blank=True)
    vtn_status = models.CharField(max_length=20, blank=True)  # far, near, active, cancelled…
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    priority = models.PositiveIntegerField(null=True, blank=True)
    test_event = models.BooleanField(default=False)
    response = models.CharField(max_length=6, choices=Response.choices, blank=True)
    response_reason = models.CharField(max_length=500, blank=True)
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_seen_at = models.DateTimeField()
    last_listed_at = models.DateTimeField()
    implied_cancel_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "vtn_event_id"], name="unique_grid_event_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vtn_event_id} #{self.modification_number}"


class GridMessage(TenantOwned):
    """One protocol message to or from a source, as sent on the wire (bounded), whether it was
    valid, and the event it concerned: the log grid engineers search and download. Written by
    ``dispatch.services.grid_messages.record_message`` for every protocol."""

    MAX_BODY_CHARS = 200_000

    class Direction(models.TextChoices):
        IN = "in", "From the VTN"
        OUT = "out", "To the VTN"

    class Validation(models.TextChoices):
        VALID = "valid", "Valid"
        INVALID = "invalid", "Invalid"
        NOT_CHECKED = "not_checked", "Not checked"

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    protocol = models.CharField(max_length=20, choices=GridSignalSource.Protocol.choices)
    # e.g. oadrDistributeEvent, oadrCreatedEvent, "GET /events"
    message_type = models.CharField(max_length=80)
    body = models.TextField(blank=True)
    body_truncated = models.BooleanField(default=False)
    validation = models.CharField(
        max_length=12, choices=Validation.choices, default=Validation.NOT_CHECKED
    )
    errors = models.JSONField(default=list, blank=True)
    # What the message meant, in a line (e.g. "optOut: the program is closed").
    summary = models.CharField(max_length=500, blank=True)
    vtn_event_id = models.CharField(max_length=100, blank=True)
    signal = models.ForeignKey(
        GridSignal, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    event = models.ForeignKey(
        Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["source", "-created_at", "-id"], name="grid_message_recent"),
            models.Index(
                fields=["source", "message_type", "-created_at"], name="grid_message_type"
            ),
            models.Index(fields=["source", "vtn_event_id"], name="grid_message_vtn_event"),
            models.Index(fields=["event"], name="grid_message_event"),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()}: {self.message_type}"


class GridOpt(TenantOwned):
    """An opt schedule the VEN sends the VTN (``oadrCreateOpt``): a planned unavailability
    window, or an opt-out of an event the VEN had opted in to; cancelled with
    ``oadrCancelOpt``. Staff create and cancel them (``dispatch.services.grid_opts``); the VEN
    sends what is pending after its next poll and records the VTN's answer."""

    class Kind(models.TextChoices):
        UNAVAILABLE = "unavailable", "Planned unavailability"
        EVENT_OPT_OUT = "event_opt_out", "Opt-out of an event"

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        ACKNOWLEDGED = "acknowledged", "Acknowledged by the VTN"
        REFUSED = "refused", "Refused by the VTN"
        CANCEL_PENDING = "cancel_pending", "Cancellation waiting to be sent"
        CANCELLED = "cancelled", "Cancelled"

    ALLOWED = {
        State.PENDING: {State.ACKNOWLEDGED, State.REFUSED, State.CANCELLED},
        State.ACKNOWLEDGED: {State.CANCEL_PENDING},
        State.CANCEL_PENDING: {State.CANCELLED, State.ACKNOWLEDGED},
        State.REFUSED: set(),
        State.CANCELLED: set(),
    }

    id = models.BigAutoField(primary_key=True)
    source = models.ForeignKey(GridSignalSource, on_delete=models.CASCADE, related_name="opts")
    opt_id = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # OpenADR optReason (x-schedule for unavailability, notParticipating for an event).
    opt_reason = models.CharField(max_length=40)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    grid_event = models.ForeignKey(
        GridEvent, null=True, blank=True, on_delete=models.SET_NULL, related_name="opts"
    )
    vtn_event_id = models.CharField(max_length=100, blank=True)
    modification_number = models.PositiveIntegerField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["source", "state"], name="grid_opt_source_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.opt_id}"
