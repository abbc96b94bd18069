"""The webhook an OpenADR 3 VTN notifies (``POST /openadr3/callbacks/<callback token>``), per
the subscriptions the VEN made (``runner``): the token in the URL names the source, the
``Authorization: Bearer`` header must carry the token given to the VTN with the subscription
(``credentials.callback_bearer``). Answers, in the document's ``problem`` shape: 404 for an
unknown (or inactive) source, 401 for a missing or wrong bearer token, 413 for a body over
``MAX_BODY_BYTES``, 400 for a body that is not a notification. An EVENT create or update goes
to ``events.receive_event`` (a version the poll already delivered changes nothing), a delete
to ``events.receive_deleted``; a PROGRAM notification updates the programs the VEN knows.
Every message that reaches a known source is written to its message log, valid or not."""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django_scopes import scopes_disabled

from dispatch.grid.openadr3 import credentials, events
from dispatch.models import Event, GridSignalSource, OpenADR3Link
from dispatch.services import grid_messages

logger = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
OBJECT_TYPES = {"PROGRAM", "EVENT", "REPORT", "SUBSCRIPTION", "VEN", "RESOURCE"}
OPERATIONS = {"GET", "POST", "PUT", "DELETE"}
Direction, Validation = grid_messages.Direction, grid_messages.Validation


def _problem(status: int, title: str, detail: str, **headers) -> JsonResponse:
    response = JsonResponse({"title": title, "status": status, "detail": detail}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def read_notification(raw: bytes) -> dict:
    """The notification in the body; ``ValueError`` says what is wrong with it."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("The body is not JSON.") from None
    if not isinstance(body, dict):
        raise ValueError("The body is not a JSON object.")
    if body.get("objectType") not in OBJECT_TYPES:
        raise ValueError("objectType is missing or not one of the document's object types.")
    if body.get("operation") not in OPERATIONS:
        raise ValueError("operation is missing or not GET, POST, PUT or DELETE.")
    if not isinstance(body.get("object"), dict):
        raise ValueError("object is missing or not a JSON object.")
    return body


@method_decorator(csrf_exempt, name="dispatch")
class CallbackView(View):
    http_method_names = ["post"]

    def post(self, request, token: str):
        with scopes_disabled():
            link = (
                OpenADR3Link.objects.select_related("source")
                .filter(
                    callback_token=token,
                    source__active=True,
                    source__protocol=GridSignalSource.Protocol.OPENADR_3,
                )
                .first()
            )
        if link is None:
            logger.warning("OpenADR 3 callback for an unknown source")
            return _problem(404, "Not Found", "No active OpenADR 3 source has this callback URL.")
        source = link.source

        def log(body, *, valid: bool, summary: str, errors=(), **fields):
            grid_messages.record_message(
                source=source, direction=Direction.IN, message_type="notification",
                body=body, validation=Validation.VALID if valid else Validation.INVALID,
                errors=errors, summary=summary, **fields,
            )  # fmt: skip

        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY_BYTES:
            log("", valid=False, summary=f"413: a body of {length} bytes refused")
            return _problem(413, "Payload Too Large", f"At most {MAX_BODY_BYTES} bytes.")
        raw = request.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            log("", valid=False, summary="413: the body is too large")
            return _problem(413, "Payload Too Large", f"At most {MAX_BODY_BYTES} bytes.")
        if not credentials.bearer_matches(token, request.headers.get("Authorization", "")):
            log(raw, valid=False, summary="401: missing or wrong bearer token",
                errors=["The bearer token is not the one given with the subscription."])  # fmt: skip
            return _problem(401, "Unauthorized", "Missing or wrong bearer token.",
                            WWW_Authenticate="Bearer")  # fmt: skip
        try:
            notification = read_notification(raw)
        except ValueError as exc:
            log(raw, valid=False, summary=f"400: {exc}", errors=[str(exc)])
            return _problem(400, "Bad Request", str(exc))
        kind, operation = notification["objectType"], notification["operation"]
        obj = notification["object"]
        vtn_event_id = str(obj.get("id") or "")[:100] if kind == "EVENT" else ""
        if kind == "EVENT" and operation == "DELETE":
            outcome = events.receive_deleted(source.pk, vtn_event_id)
        elif kind == "EVENT" and operation in ("POST", "PUT"):
            outcome = events.receive_event(source.pk, obj)
        elif kind == "PROGRAM":
            outcome = _program_changed(link, operation, obj)
        else:
            outcome = events.Outcome(events.ACCEPTED, f"{kind} {operation}: nothing to do.")
        with scopes_disabled():
            event = Event.objects.filter(pk=outcome.event_id).first() if outcome.event_id else None
        log(raw, valid=True, summary=f"{kind} {operation}: {outcome.response}: {outcome.message}",
            vtn_event_id=vtn_event_id, event=event)  # fmt: skip
        return JsonResponse({"status": outcome.response, "detail": outcome.message})


def _program_changed(link: OpenADR3Link, operation: str, program: dict) -> events.Outcome:
    program_id = program.get("id")
    if not isinstance(program_id, str) or not program_id:
        return events.Outcome(events.REFUSED, "The program has no id.")
    with scopes_disabled(), transaction.atomic():
        link = OpenADR3Link.objects.select_for_update().get(pk=link.pk)
        programs = dict(link.vtn_programs or {})
        if operation == "DELETE":
            programs.pop(program_id, None)
        else:
            programs[program_id] = {
                "programName": program.get("programName"),
                "modified": program.get("modificationDateTime"),
            }
        OpenADR3Link.objects.filter(pk=link.pk).update(vtn_programs=programs)
    return events.Outcome(events.ACCEPTED, f"Program {program_id} {operation.lower()} noted.")
