"""Dispatch: demand-response events and dispatch groups (``events``), how events were planned
and who took part (``participants``), and grid signals — sources, routes, received signals,
VTN events and the protocol message log (``grid``), and what only OpenADR 3 sources need
(``openadr3``)."""

from dispatch.models.events import EMERGENCY_LEVEL, DispatchGroup, Event, ProfileStep
from dispatch.models.grid import (
    GridEvent,
    GridMessage,
    GridOpt,
    GridSignal,
    GridSignalRoute,
    GridSignalSource,
)
from dispatch.models.openadr3 import OpenADR3EventVersion, OpenADR3Link
from dispatch.models.participants import EventParticipant, EventPlanRun

__all__ = [
    "EMERGENCY_LEVEL",
    "DispatchGroup",
    "Event",
    "EventParticipant",
    "EventPlanRun",
    "GridEvent",
    "GridMessage",
    "GridOpt",
    "GridSignal",
    "GridSignalRoute",
    "GridSignalSource",
    "OpenADR3EventVersion",
    "OpenADR3Link",
    "ProfileStep",
]
