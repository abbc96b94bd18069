"""Opt schedules to a source's VTN (OpenADR 2.0b ``EiOpt``): what staff created or cancelled
(``dispatch.services.grid_opts``) is sent by the source's session after each poll —
``oadrCreateOpt`` (a planned unavailability window as ``vavailability``, or an opt-out naming
the event) and ``oadrCancelOpt`` — and the VTN's answer moves the opt on (acknowledged,
refused, cancelled)."""

from __future__ import annotations

from datetime import UTC, datetime

from asgiref.sync import sync_to_async
from openleadr import utils as oadr_utils

from dispatch.grid import oadr2b_xml
from dispatch.models import GridOpt
from dispatch.services import grid_opts


async def send_opts(session) -> None:
    """Send the opts staff created or cancelled; the VTN's answer moves each on."""
    for opt in await sync_to_async(grid_opts.to_send)(session.config.pk):
        if opt.state == GridOpt.State.PENDING:
            await _create_opt(session, opt)
        else:
            await _cancel_opt(session, opt)


async def _create_opt(session, opt: GridOpt) -> None:
    payload = {
        "opt_id": opt.opt_id,
        "opt_type": "optOut",
        "opt_reason": opt.opt_reason,
        "ven_id": session.ven_id,
        "created_date_time": datetime.now(UTC),
        "request_id": oadr_utils.generate_id(),
        "targets": [{"ven_id": session.ven_id}],
    }
    if opt.kind == GridOpt.Kind.UNAVAILABLE:
        window = {"dtstart": opt.starts_at, "duration": opt.ends_at - opt.starts_at}
        payload["vavailability"] = {"components": [window]}
    else:
        payload.update(event_id=opt.vtn_event_id, modification_number=opt.modification_number)
    answer = await session.exchange(
        "EiOpt",
        "oadrCreateOpt",
        summary=f"{opt.get_kind_display()}: {opt.note}",
        vtn_event_id=opt.vtn_event_id,
        **payload,
    )
    await _opt_answered(opt, answer, "oadrCreatedOpt", GridOpt.State.ACKNOWLEDGED)


async def _cancel_opt(session, opt: GridOpt) -> None:
    answer = await session.exchange(
        "EiOpt",
        "oadrCancelOpt",
        summary=f"Cancel {opt.get_kind_display().lower()}",
        opt_id=opt.opt_id,
        ven_id=session.ven_id,
        request_id=oadr_utils.generate_id(),
    )
    await _opt_answered(opt, answer, "oadrCanceledOpt", GridOpt.State.CANCELLED)


async def _opt_answered(opt: GridOpt, answer, expected: str, accepted: str) -> None:
    code, why = (0, "no answer") if answer is None else oadr2b_xml.response_code(answer.element)
    ok = answer is not None and answer.type == expected and code == 200
    refused = (
        GridOpt.State.REFUSED if opt.state == GridOpt.State.PENDING else GridOpt.State.ACKNOWLEDGED
    )
    await sync_to_async(grid_opts.answered)(
        opt.pk,
        from_state=opt.state,
        to_state=accepted if ok else refused,
        error="" if ok else f"The VTN answered {answer.type if answer else 'nothing'} {code} {why}",
    )
