"""The installer's side: drafting, routing to the AHJ of the premise, submission,
withdrawal and reporting the installation done."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from enrollment.interconnection.models import (
    ApplicationTransition,
    Deficiency,
    InterconnectionApplication,
)
from enrollment.interconnection.services.errors import (
    ChecklistIncomplete,
    InvalidInput,
    StaleState,
    TransitionNotAllowed,
)
from enrollment.interconnection.services.transitions import (
    apply_transition,
    check_expected,
    lock_application,
)
from portal.audit import record
from portal.models import InstallerCompany, User, Utility

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track
Config = Application.Configuration


REVIEW_PATH = {
    Config.CHARGE_ONLY: Application.ReviewPath.NONE,
    Config.BACKUP_V2H: Application.ReviewPath.SIMPLIFIED,
    Config.GRID_PARALLEL_V2H: Application.ReviewPath.FULL,
    Config.V2G: Application.ReviewPath.FULL,
}

DRAFT_FIELDS = (
    "configuration",
    "ahj",
    "vehicle",
    "charger",
    "transfer_switch_model",
    "transformer",
    "nameplate_kw",
    "requested_export_kw",
    "panel_rating_amps",
    "busbar_rating_amps",
    "main_breaker_amps",
    "backfeed_breaker_amps",
    "installer_license",
)
# The installer may correct the application while drafting or answering a deficiency.
EDITABLE_STATES = (Status.DRAFT, Status.NEEDS_INFO)


def create_draft(
    *,
    utility: Utility,
    installer: InstallerCompany,
    service_account,
    actor: User,
    values: dict[str, Any],
) -> Application:
    with transaction.atomic():
        app = Application(
            utility=utility,
            installer=installer,
            service_account=service_account,
            created_by=actor,
            installer_license=installer.license_number,
        )
        for name in DRAFT_FIELDS:
            if name in values:
                setattr(app, name, values[name])
        _route_to_jurisdiction(app)
        app.save()
        record(action="interconnection.drafted", utility=utility, obj=app, actor=actor)
    return app


def update_draft(*, application: Application, actor: User, values: dict[str, Any]) -> Application:
    with transaction.atomic():
        app = lock_application(application.pk)
        if app.status not in EDITABLE_STATES:
            raise TransitionNotAllowed(
                f"The application is “{app.get_status_display()}”; it can no longer be edited."
            )
        changed = {}
        for name in DRAFT_FIELDS:
            if name in values and getattr(app, name) != values[name]:
                changed[name] = str(values[name]) if values[name] is not None else None
                setattr(app, name, values[name])
        if _route_to_jurisdiction(app):
            changed["ahj"] = str(app.ahj)
        if changed:
            app.updated_at = timezone.now()
            app.save(update_fields=[*DRAFT_FIELDS, "updated_at"])
            record(
                action="interconnection.edited",
                utility=app.utility,
                obj=app,
                actor=actor,
                changes=changed,
            )
    return app


def _route_to_jurisdiction(app: Application) -> bool:
    """Send the application to the AHJ whose jurisdiction holds the premise, whatever was
    picked, when exactly one of the utility's AHJs lists the premise's ZIP code. Returns
    whether the AHJ changed. Otherwise the choice stays, and a mismatch is flagged to the
    engineer (``selectors.ahj_mismatch``)."""
    from enrollment.interconnection.selectors import jurisdiction_ahjs

    matches = jurisdiction_ahjs(utility_id=app.utility_id, zip_code=app.service_account.zip_code)
    if len(matches) != 1 or app.ahj_id == matches[0].pk:
        return False
    app.ahj = matches[0]
    return True


# The AHJ may be changed until it has decided the permit.
REROUTABLE_PERMITS = (Permit.NOT_SUBMITTED, Permit.PERMIT_REVIEW, Permit.CORRECTIONS)


def route_to_jurisdiction(*, application: Application, actor: User) -> Application:
    """The engineer's fix for a flagged mismatch: move the application to the AHJ whose
    jurisdiction holds the premise (before that AHJ's permit decision)."""
    with transaction.atomic():
        app = lock_application(application.pk)
        if app.permit_status not in REROUTABLE_PERMITS:
            raise TransitionNotAllowed(
                "The permit is decided already; the AHJ can no longer be changed."
            )
        before = app.ahj
        if not _route_to_jurisdiction(app):
            raise InvalidInput(
                "No single AHJ of this utility lists the premise's ZIP code; "
                "ask the installer to pick the right one."
            )
        app.updated_at = timezone.now()
        app.save(update_fields=["ahj", "updated_at"])
        record(
            action="interconnection.rerouted",
            utility=app.utility,
            obj=app,
            actor=actor,
            changes={"from": str(before) if before else None, "to": str(app.ahj)},
        )
    return app


def submit(
    *, application: Application, actor: User, expected: str | None = Status.DRAFT
) -> Application:
    """Send a complete draft to the utility and the AHJ at once. Charge-only needs no
    interconnection review (load rules only), so its utility track closes right away."""
    from enrollment.interconnection.selectors import checklist

    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        missing = [item for item in checklist(app) if item.blocking and not item.ok]
        if missing:
            raise ChecklistIncomplete(
                "The application is not complete yet: "
                + "; ".join(item.label for item in missing)
                + ".",
                missing=[item.key for item in missing],
            )
        _route_to_jurisdiction(app)
        app.review_path = REVIEW_PATH[app.configuration]
        app.submitted_at = now
        app.reference = f"IC-{app.utility_id}-{app.pk:06d}"
        fields = ("ahj", "review_path", "submitted_at", "reference")
        if app.needs_interconnection:
            apply_transition(
                app, track=Track.UTILITY, to=Status.SUBMITTED, action="submitted",
                actor=actor, now=now, extra_fields=fields,
            )  # fmt: skip
        else:
            apply_transition(
                app, track=Track.UTILITY, to=Status.NO_REVIEW_NEEDED, action="submitted",
                actor=actor, now=now, extra_fields=fields,
                comment="Charge-only: no interconnection review needed.",
            )  # fmt: skip
        if app.ahj_id:
            apply_transition(
                app, track=Track.AHJ, to=Permit.PERMIT_REVIEW, action="permit_requested",
                actor=actor, now=now,
            )  # fmt: skip
    return app


def withdraw(*, application: Application, actor: User, reason: str = "") -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        if app.status == Status.WITHDRAWN:
            raise StaleState("This application is already withdrawn.")
        apply_transition(
            app, track=Track.UTILITY, to=Status.WITHDRAWN, action="withdrawn", actor=actor,
            now=now, comment=reason,
        )  # fmt: skip
        if Permit.WITHDRAWN in Application.PERMIT_ALLOWED.get(app.permit_status, ()):
            apply_transition(
                app, track=Track.AHJ, to=Permit.WITHDRAWN, action="withdrawn", actor=actor,
                now=now, comment=reason,
            )  # fmt: skip
        Deficiency.objects.filter(application=app, answered_at__isnull=True).update(answered_at=now)
    return app


def report_installed(*, application: Application, actor: User) -> Application:
    """The installer finished the work (or the corrections after a failed inspection): the
    AHJ is asked to inspect and the utility's completion-to-PTO clock starts."""
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        if app.permit_status not in (Permit.PERMIT_ISSUED, Permit.INSPECTION_FAILED):
            raise TransitionNotAllowed(
                "Installation can be reported once the AHJ has issued the permit "
                f"(the permit is “{app.get_permit_status_display()}”)."
            )
        if app.needs_interconnection and app.status == Status.APPROVED_TO_INSTALL:
            apply_transition(
                app, track=Track.UTILITY, to=Status.INSTALLED, action="installed", actor=actor,
                now=now,
            )  # fmt: skip
        elif app.needs_interconnection and app.status != Status.INSTALLED:
            raise TransitionNotAllowed(
                f"The utility has not approved installation yet (“{app.get_status_display()}”)."
            )
        # A new request (after a failed inspection too): the earlier schedule is history.
        app.inspection_on = None
        apply_transition(
            app, track=Track.AHJ, to=Permit.INSPECTION_REQUESTED, action="inspection_requested",
            actor=actor, now=now, extra_fields=("inspection_on",),
        )  # fmt: skip
    return app
