"""The AHJ's track: permit, corrections and the final inspection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import transaction
from django.utils import timezone

from enrollment.interconnection.models import (
    ApplicationTransition,
    Deficiency,
    InterconnectionApplication,
)
from enrollment.interconnection.services.deficiencies import DeficiencyItemInput, raise_deficiency
from enrollment.interconnection.services.errors import (
    InspectionDateNeeded,
    InvalidInput,
    TransitionNotAllowed,
)
from enrollment.interconnection.services.transitions import (
    apply_transition,
    check_expected,
    lock_application,
)
from portal.models import User

Application = InterconnectionApplication
Permit = Application.PermitStatus
Track = ApplicationTransition.Track


def issue_permit(
    *, application: Application, permit_number: str, actor: User, expected: str | None = None
) -> Application:
    permit_number = (permit_number or "").strip()
    if not permit_number:
        raise InvalidInput("Give the permit number.")
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="permit_status", expected=expected)
        app.permit_number = permit_number[:40]
        app.permit_issued_at = now
        apply_transition(
            app, track=Track.AHJ, to=Permit.PERMIT_ISSUED, action="permit_issued", actor=actor,
            now=now, comment=f"Permit {app.permit_number}.",
            extra_fields=("permit_number", "permit_issued_at"),
        )  # fmt: skip
    return app


def request_corrections(
    *,
    application: Application,
    items: Sequence[DeficiencyItemInput],
    actor: User,
    expected: str | None = None,
) -> Deficiency:
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="permit_status", expected=expected)
        if app.permit_status != Permit.PERMIT_REVIEW:
            raise TransitionNotAllowed("Corrections are requested during permit review.")
        deficiency = raise_deficiency(app, track=Track.AHJ, items=items, actor=actor)
        apply_transition(
            app, track=Track.AHJ, to=Permit.CORRECTIONS, action="corrections_requested",
            actor=actor, now=now, comment=f"{deficiency.items.count()} item(s) to correct.",
        )  # fmt: skip
    return deficiency


def schedule_inspection(
    *, application: Application, on: date, actor: User, expected: str | None = None
) -> Application:
    now = timezone.now()
    if on is None:
        raise InvalidInput("Give the inspection date.")
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="permit_status", expected=expected)
        app.inspection_on = on
        apply_transition(
            app, track=Track.AHJ, to=Permit.INSPECTION_SCHEDULED, action="inspection_scheduled",
            actor=actor, now=now, comment=f"Inspection on {on:%Y-%m-%d}.",
            extra_fields=("inspection_on",),
        )  # fmt: skip
    return app


def record_inspection(
    *,
    application: Application,
    passed: bool,
    actor: User,
    comment: str = "",
    inspected_on: date | None = None,
    expected: str | None = None,
) -> Application:
    """The inspection's result and the day it actually happened (``inspected_on``; today
    when not given). A pass recorded before the scheduled day needs the date it took place:
    "today" would be a guess. A date in the future, or before the permit, is refused."""
    comment = (comment or "").strip()
    if not passed and not comment:
        raise InvalidInput("Say which corrections the failed inspection needs.")
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="permit_status", expected=expected)
        today = timezone.localdate(now, app.utility.tzinfo)
        if inspected_on is None:
            if passed and app.inspection_on and today < app.inspection_on:
                raise InspectionDateNeeded(
                    f"The inspection is scheduled for {app.inspection_on:%Y-%m-%d}: give the "
                    "date it actually took place."
                )
            inspected_on = today
        if inspected_on > today:
            raise InspectionDateNeeded("The inspection date can't be in the future.")
        permitted_on = (
            timezone.localdate(app.permit_issued_at, app.utility.tzinfo)
            if app.permit_issued_at
            else None
        )
        if permitted_on and inspected_on < permitted_on:
            raise InspectionDateNeeded(
                f"The inspection can't predate the permit (issued {permitted_on:%Y-%m-%d})."
            )
        app.inspected_on = inspected_on
        note = f"Inspected on {inspected_on:%Y-%m-%d}." + (f" {comment}" if comment else "")
        if passed:
            app.inspection_passed_at = now
            apply_transition(
                app, track=Track.AHJ, to=Permit.INSPECTION_PASSED, action="inspection_passed",
                actor=actor, now=now, comment=note,
                extra_fields=("inspection_passed_at", "inspected_on"),
            )  # fmt: skip
        else:
            apply_transition(
                app, track=Track.AHJ, to=Permit.INSPECTION_FAILED, action="inspection_failed",
                actor=actor, now=now, comment=note, extra_fields=("inspected_on",),
            )  # fmt: skip
    return app
