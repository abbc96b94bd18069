"""Interconnection writes: drafting, documents, submission, the utility's review, the AHJ's
permit and inspection, deficiencies and their answers, witness tests and PTO.

Every transition locks the application row (``select_for_update(of=("self",))``), checks
the move against ``ALLOWED`` / ``PERMIT_ALLOWED`` and the state the page showed
(``expected``: a second click finds the state moved on and is told so, nothing changes),
saves with ``update_fields``, moves the SLA clocks, writes a history row and an audit row,
and sends notifications on commit. Call inside the application's utility scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from devices.models import Charger
from enrollment.interconnection import screens, sla
from enrollment.interconnection.documents import check_upload
from enrollment.models import (
    ApplicationDocument,
    ApplicationMessage,
    ApplicationTransition,
    Deficiency,
    DeficiencyItem,
    InterconnectionApplication,
    InterconnectionPolicy,
    SlaClock,
)
from enrollment.models.interconnection import DEFAULT_SLA_BUSINESS_DAYS
from enrollment.services import reevaluate_accounts
from portal.audit import actor_label, record
from portal.errors import DomainError
from portal.models import InstallerCompany, User, Utility
from portal.roles import CAPABILITIES, Cap
from portal.tasking import enqueue_on_commit

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track
Stage = SlaClock.Stage
Config = Application.Configuration
Kind = ApplicationDocument.Kind

# --- Errors ---------------------------------------------------------------------------------


class InterconnectionError(DomainError):
    """A refused interconnection action."""


class TransitionNotAllowed(InterconnectionError):
    code = "invalid_transition"


class StaleState(InterconnectionError):
    """The page was loaded before someone (or an earlier click) moved the application."""

    code = "stale_state"


class ChecklistIncomplete(InterconnectionError):
    code = "checklist_incomplete"


class InvalidInput(InterconnectionError):
    code = "invalid_input"


class InspectionDateNeeded(InvalidInput):
    """A pass recorded before the scheduled day, or a date that is not possible."""

    code = "inspection_date_needed"


# --- Routing, SLA targets and the stage each state's clock measures ---------------------------

REVIEW_PATH = {
    Config.CHARGE_ONLY: Application.ReviewPath.NONE,
    Config.BACKUP_V2H: Application.ReviewPath.SIMPLIFIED,
    Config.GRID_PARALLEL_V2H: Application.ReviewPath.FULL,
    Config.V2G: Application.ReviewPath.FULL,
}

CLOCK_STAGE = {
    (Track.UTILITY, Status.SUBMITTED): Stage.ACKNOWLEDGEMENT,
    (Track.UTILITY, Status.COMPLETENESS_REVIEW): Stage.COMPLETENESS,
    (Track.UTILITY, Status.TECHNICAL_REVIEW): Stage.TECHNICAL_REVIEW,
    (Track.UTILITY, Status.INSTALLED): Stage.PTO,
    (Track.AHJ, Permit.PERMIT_REVIEW): Stage.PERMIT,
    (Track.AHJ, Permit.INSPECTION_REQUESTED): Stage.INSPECTION,
    (Track.AHJ, Permit.INSPECTION_SCHEDULED): Stage.INSPECTION,
}
# States in which the applicant owes an answer: the stage's clock pauses.
WAITING_ON_APPLICANT = {Status.NEEDS_INFO, Permit.CORRECTIONS, Permit.INSPECTION_FAILED}


def sla_targets(utility_id: int) -> dict[str, int]:
    policy = InterconnectionPolicy.objects.filter(utility_id=utility_id).first()
    if policy is None:
        return dict(DEFAULT_SLA_BUSINESS_DAYS)
    return {stage: policy.target_business_days(stage) for stage in DEFAULT_SLA_BUSINESS_DAYS}


def _move_clock(app: Application, *, track: str, old: str, new: str, now: datetime) -> None:
    calendar = sla.holiday_calendar(app.utility)
    today = timezone.localdate(now, app.utility.tzinfo)
    clock = SlaClock.objects.filter(application=app, track=track, stopped_on__isnull=True).first()
    stage = CLOCK_STAGE.get((track, new))
    if new in WAITING_ON_APPLICANT:
        if clock is not None:
            sla.pause_clock(clock, today=today)
        return
    if clock is not None and clock.stage == stage:
        if old in WAITING_ON_APPLICANT:
            sla.resume_clock(clock, today=today, calendar=calendar)
        return
    if clock is not None:
        sla.stop_clock(clock, today=today, calendar=calendar)
    if stage is not None:
        sla.start_clock(
            application=app,
            track=track,
            stage=stage,
            today=today,
            target=sla_targets(app.utility_id)[stage],
            calendar=calendar,
        )


# --- Locks and the one transition helper ----------------------------------------------------


def _lock(application_id: int) -> Application:
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


def _check_expected(app: Application, *, field: str, expected: str | None) -> None:
    if expected and getattr(app, field) != expected:
        current = getattr(app, f"get_{field}_display")()
        raise StaleState(
            f"This application changed while you were looking at it: it is now "
            f"“{current}”. Nothing was done.",
            status=getattr(app, field),
        )


def _transition(
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
    old = getattr(app, field)
    if to not in allowed.get(old, ()):
        label = (Status if track == Track.UTILITY else Permit)(to).label
        raise TransitionNotAllowed(
            f"An application that is “{getattr(app, f'get_{field}_display')()}” cannot move "
            f"to “{label}”.",
            status=old,
        )
    setattr(app, field, to)
    app.updated_at = now
    app.save(update_fields=[field, "updated_at", *extra_fields])
    _move_clock(app, track=track, old=old, new=to, now=now)
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


# --- Drafting and documents (installer) -----------------------------------------------------

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
        app = _lock(application.pk)
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
        app = _lock(application.pk)
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


def _store_document(
    *, app: Application, kind: str, upload: UploadedFile, actor: User | None
) -> ApplicationDocument:
    content_type, digest = check_upload(upload)
    latest = ApplicationDocument.objects.filter(application=app, kind=kind).aggregate(
        v=Max("version")
    )["v"]
    document = ApplicationDocument(
        utility_id=app.utility_id,
        application=app,
        kind=kind,
        version=(latest or 0) + 1,
        original_name=(upload.name or "upload")[:200],
        content_type=content_type,
        size_bytes=upload.size,
        sha256=digest,
        uploaded_by=actor,
    )
    # The storage name comes from upload_to: random, never the uploaded name.
    document.file.save("upload", upload, save=False)
    try:
        document.save()
    except Exception:
        document.file.delete(save=False)
        raise
    record(
        action="interconnection.document_uploaded",
        utility=app.utility,
        obj=app,
        actor=actor,
        changes={"kind": kind, "version": document.version, "sha256": digest},
    )
    return document


def upload_document(
    *, application: Application, kind: str, upload: UploadedFile, actor: User
) -> ApplicationDocument:
    """A new version of one kind of document; earlier versions stay."""
    if kind not in Kind.values:
        raise InvalidInput("Choose what kind of document this is.")
    with transaction.atomic():
        app = _lock(application.pk)
        if app.status in Application.FINAL_STATES:
            raise TransitionNotAllowed("This application is closed; documents can't be added.")
        return _store_document(app=app, kind=kind, upload=upload, actor=actor)


# --- Submission -----------------------------------------------------------------------------


def submit(
    *, application: Application, actor: User, expected: str | None = Status.DRAFT
) -> Application:
    """Send a complete draft to the utility and the AHJ at once. Charge-only needs no
    interconnection review (load rules only), so its utility track closes right away."""
    from enrollment.interconnection.selectors import checklist

    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
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
            _transition(
                app, track=Track.UTILITY, to=Status.SUBMITTED, action="submitted",
                actor=actor, now=now, extra_fields=fields,
            )  # fmt: skip
        else:
            _transition(
                app, track=Track.UTILITY, to=Status.NO_REVIEW_NEEDED, action="submitted",
                actor=actor, now=now, extra_fields=fields,
                comment="Charge-only: no interconnection review needed.",
            )  # fmt: skip
        if app.ahj_id:
            _transition(
                app, track=Track.AHJ, to=Permit.PERMIT_REVIEW, action="permit_requested",
                actor=actor, now=now,
            )  # fmt: skip
    return app


def withdraw(*, application: Application, actor: User, reason: str = "") -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        if app.status == Status.WITHDRAWN:
            raise StaleState("This application is already withdrawn.")
        _transition(
            app, track=Track.UTILITY, to=Status.WITHDRAWN, action="withdrawn", actor=actor,
            now=now, comment=reason,
        )  # fmt: skip
        if Permit.WITHDRAWN in Application.PERMIT_ALLOWED.get(app.permit_status, ()):
            _transition(
                app, track=Track.AHJ, to=Permit.WITHDRAWN, action="withdrawn", actor=actor,
                now=now, comment=reason,
            )  # fmt: skip
        Deficiency.objects.filter(application=app, answered_at__isnull=True).update(answered_at=now)
    return app


# --- Utility review -------------------------------------------------------------------------


def acknowledge(
    *, application: Application, actor: User, expected: str | None = None
) -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        _transition(
            app, track=Track.UTILITY, to=Status.COMPLETENESS_REVIEW, action="acknowledged",
            actor=actor, now=now,
        )  # fmt: skip
    return app


def accept_complete(
    *, application: Application, actor: User, expected: str | None = None
) -> Application:
    """The application is complete: run the screens. All pass → fast-track approval to
    install; any fails → engineering review."""
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        if app.status != Status.COMPLETENESS_REVIEW:
            raise TransitionNotAllowed(
                f"Only applications in completeness review can be accepted as complete; this "
                f"one is “{app.get_status_display()}”."
            )
        results = screens.run_screens(app)
        app.screen_results = [r.as_dict() for r in results]
        app.screened_at = now
        app.fast_tracked = all(r.passed for r in results)
        failed = [screens.SCREEN_LABELS[r.screen] for r in results if not r.passed]
        fields = ("screen_results", "screened_at", "fast_tracked")
        if app.fast_tracked:
            _transition(
                app, track=Track.UTILITY, to=Status.APPROVED_TO_INSTALL, action="fast_tracked",
                actor=actor, now=now, extra_fields=fields,
                comment="Complete; every fast-track screen passed.",
            )  # fmt: skip
        else:
            _transition(
                app, track=Track.UTILITY, to=Status.TECHNICAL_REVIEW, action="to_engineering",
                actor=actor, now=now, extra_fields=fields,
                comment="Complete; screens failed: " + ", ".join(failed) + ".",
            )  # fmt: skip
    return app


@dataclass(frozen=True)
class DeficiencyItemInput:
    topic: str
    comment: str
    document_kind: str = ""


def _raise_deficiency(
    app: Application, *, track: str, items: Sequence[DeficiencyItemInput], actor: User
) -> Deficiency:
    items = [i for i in items if i.comment.strip()]
    if not items:
        raise InvalidInput("Add at least one item with a comment saying what is needed.")
    for item in items:
        if item.topic not in DeficiencyItem.Topic.values:
            raise InvalidInput("Choose a topic for each item.")
        if item.document_kind and item.document_kind not in Kind.values:
            raise InvalidInput("Unknown document kind.")
        if item.topic == DeficiencyItem.Topic.DOCUMENT and not item.document_kind:
            raise InvalidInput("Say which document each document item asks for.")
    deficiency = Deficiency.objects.create(
        utility_id=app.utility_id, application=app, track=track, raised_by=actor
    )
    DeficiencyItem.objects.bulk_create(
        DeficiencyItem(
            utility_id=app.utility_id,
            deficiency=deficiency,
            topic=item.topic,
            document_kind=item.document_kind,
            comment=item.comment.strip(),
        )
        for item in items
    )
    return deficiency


def request_information(
    *,
    application: Application,
    items: Sequence[DeficiencyItemInput],
    actor: User,
    expected: str | None = None,
) -> Deficiency:
    """Send the application back to the installer with a comment per item; the stage's clock
    pauses until they answer."""
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        if Status.NEEDS_INFO not in Application.ALLOWED.get(app.status, ()):
            raise TransitionNotAllowed(
                f"Information can't be requested while the application is "
                f"“{app.get_status_display()}”."
            )
        deficiency = _raise_deficiency(app, track=Track.UTILITY, items=items, actor=actor)
        app.status_before_info = app.status
        app.deficiency_rounds += 1
        _transition(
            app, track=Track.UTILITY, to=Status.NEEDS_INFO, action="information_requested",
            actor=actor, now=now, comment=f"{deficiency.items.count()} item(s) to answer.",
            extra_fields=("status_before_info", "deficiency_rounds"),
        )  # fmt: skip
    return deficiency


def approve_engineering(
    *, application: Application, actor: User, comment: str = "", expected: str | None = None
) -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        if app.status != Status.TECHNICAL_REVIEW:
            raise TransitionNotAllowed("Only applications in engineering review can be approved.")
        app.decision_note = comment.strip()
        _transition(
            app, track=Track.UTILITY, to=Status.APPROVED_TO_INSTALL, action="approved",
            actor=actor, now=now, comment=comment.strip(), extra_fields=("decision_note",),
        )  # fmt: skip
    return app


def reject(
    *, application: Application, actor: User, reason: str, expected: str | None = None
) -> Application:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for rejecting the application.")
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        app.decision_note = reason
        _transition(
            app, track=Track.UTILITY, to=Status.REJECTED, action="rejected", actor=actor,
            now=now, comment=reason, extra_fields=("decision_note",),
        )  # fmt: skip
    return app


def engineers_of(utility_id: int):
    """People who may review interconnection in this utility."""
    roles = [r for r, caps in CAPABILITIES.items() if Cap.REVIEW_INTERCONNECTION in caps]
    return User.objects.filter(
        memberships__utility_id=utility_id, memberships__role__in=roles, is_active=True
    ).distinct()


def assign_engineer(*, application: Application, engineer: User | None, actor: User) -> Application:
    if (
        engineer is not None
        and not engineers_of(application.utility_id).filter(pk=engineer.pk).exists()
    ):
        raise InvalidInput("That person is not an interconnection engineer of this utility.")
    with transaction.atomic():
        app = _lock(application.pk)
        before = app.assigned_engineer_id
        app.assigned_engineer = engineer
        app.updated_at = timezone.now()
        app.save(update_fields=["assigned_engineer", "updated_at"])
        record(
            action="interconnection.assigned",
            utility=app.utility,
            obj=app,
            actor=actor,
            changes={"from": before, "to": engineer.pk if engineer else None},
        )
    return app


WITNESS_MOVES = {
    "schedule": Application.WitnessTest.SCHEDULED,
    "waive": Application.WitnessTest.WAIVED,
    "pass": Application.WitnessTest.PASSED,
}


def decide_witness_test(
    *, application: Application, decision: str, actor: User, on: date | None = None
) -> Application:
    if decision not in WITNESS_MOVES:
        raise InvalidInput("Choose schedule, waive or passed for the witness test.")
    if decision == "schedule" and on is None:
        raise InvalidInput("Give the date of the witness test.")
    with transaction.atomic():
        app = _lock(application.pk)
        if app.status not in (Status.APPROVED_TO_INSTALL, Status.INSTALLED):
            raise TransitionNotAllowed(
                "The witness test is decided after approval to install and before PTO."
            )
        to = WITNESS_MOVES[decision]
        if app.witness_test == to and decision != "schedule":
            raise StaleState(f"The witness test is already {to.label.lower()}.")
        before = app.witness_test
        app.witness_test = to
        app.witness_test_on = on if decision == "schedule" else app.witness_test_on
        app.updated_at = timezone.now()
        app.save(update_fields=["witness_test", "witness_test_on", "updated_at"])
        record(
            action="interconnection.witness_test",
            utility=app.utility,
            obj=app,
            actor=actor,
            from_state=before,
            to_state=to,
            changes={"on": on.isoformat() if on else None},
        )
    return app


def grant_pto(
    *,
    application: Application,
    actor: User,
    approved_export_kw: float | None = None,
    expected: str | None = None,
) -> Application:
    """Permission to operate: needs the installed system, the AHJ's final inspection and the
    witness test passed or waived. Sets the charger's approved export and moves the
    customer's enrollments that were waiting for interconnection forward."""
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        if app.status == Status.PTO_GRANTED:
            raise StaleState("Permission to operate was already granted.")
        blockers = pto_blockers(app)
        if blockers:
            raise TransitionNotAllowed("PTO can't be granted yet: " + "; ".join(blockers) + ".")
        export = app.requested_export_kw if approved_export_kw is None else approved_export_kw
        if export is None or export < 0 or export > (app.requested_export_kw or 0):
            raise InvalidInput("The approved export must be between 0 and the requested export.")
        calendar = sla.holiday_calendar(app.utility)
        app.approved_export_kw = export
        app.pto_at = now
        app.pto_by = actor
        app.business_days_to_pto = sla.business_days_between(
            timezone.localdate(app.submitted_at, app.utility.tzinfo),
            timezone.localdate(now, app.utility.tzinfo),
            calendar,
        )
        _transition(
            app, track=Track.UTILITY, to=Status.PTO_GRANTED, action="pto_granted", actor=actor,
            now=now, comment=f"Export up to {export:g} kW.",
            extra_fields=("approved_export_kw", "pto_at", "pto_by", "business_days_to_pto"),
        )  # fmt: skip
        _set_charger_export(app, export_kw=export, actor=actor, now=now)
        reevaluate_accounts(
            service_account_ids=[app.service_account_id],
            now=now,
            action="enrollment.interconnection_granted",
            actor=actor,
        )
    return app


def revoke_pto(
    *, application: Application, actor: User, reason: str, expected: str | None = None
) -> Application:
    """Withdraw permission to operate (an unapproved change at the premise, a failed
    re-test): the charger loses its approved export and the customer's enrollments that
    needed PTO are re-evaluated (an active one goes to review)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for revoking permission to operate.")
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="status", expected=expected)
        app.decision_note = reason
        _transition(
            app, track=Track.UTILITY, to=Status.PTO_REVOKED, action="pto_revoked", actor=actor,
            now=now, comment=reason, extra_fields=("decision_note",),
        )  # fmt: skip
        _set_charger_export(app, export_kw=None, actor=actor, now=now)
        reevaluate_accounts(
            service_account_ids=[app.service_account_id],
            now=now,
            action="enrollment.interconnection_revoked",
            actor=actor,
        )
    return app


def _set_charger_export(
    app: Application, *, export_kw: float | None, actor: User, now: datetime
) -> None:
    """The charger's export limit (what dispatch caps discharge at) follows the PTO, with
    its own audit row."""
    if not app.charger_id:
        return
    charger = Charger.objects.select_for_update(of=("self",)).get(pk=app.charger_id)
    before = charger.approved_export_kw
    if before == export_kw:
        return
    charger.approved_export_kw = export_kw
    charger.updated_at = now
    charger.save(update_fields=["approved_export_kw", "updated_at"])
    record(
        action="charger.export_limit_set",
        utility=app.utility,
        obj=charger,
        actor=actor,
        changes={"from": before, "to": export_kw, "application": app.pk},
    )


def pto_blockers(app: Application) -> list[str]:
    """What still stands between this application and PTO (empty: it can be granted)."""
    blockers = []
    if app.status not in (Status.INSTALLED, Status.PTO_REVOKED):
        blockers.append("the installation is not reported complete")
    if app.ahj_id and app.permit_status != Permit.INSPECTION_PASSED:
        blockers.append("the AHJ's final inspection has not passed")
    if app.witness_test not in (Application.WitnessTest.WAIVED, Application.WitnessTest.PASSED):
        blockers.append("the witness test is neither passed nor waived")
    return blockers


# --- AHJ track ------------------------------------------------------------------------------


def issue_permit(
    *, application: Application, permit_number: str, actor: User, expected: str | None = None
) -> Application:
    permit_number = (permit_number or "").strip()
    if not permit_number:
        raise InvalidInput("Give the permit number.")
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        _check_expected(app, field="permit_status", expected=expected)
        app.permit_number = permit_number[:40]
        app.permit_issued_at = now
        _transition(
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
        app = _lock(application.pk)
        _check_expected(app, field="permit_status", expected=expected)
        if app.permit_status != Permit.PERMIT_REVIEW:
            raise TransitionNotAllowed("Corrections are requested during permit review.")
        deficiency = _raise_deficiency(app, track=Track.AHJ, items=items, actor=actor)
        _transition(
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
        app = _lock(application.pk)
        _check_expected(app, field="permit_status", expected=expected)
        app.inspection_on = on
        _transition(
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
        app = _lock(application.pk)
        _check_expected(app, field="permit_status", expected=expected)
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
            _transition(
                app, track=Track.AHJ, to=Permit.INSPECTION_PASSED, action="inspection_passed",
                actor=actor, now=now, comment=note,
                extra_fields=("inspection_passed_at", "inspected_on"),
            )  # fmt: skip
        else:
            _transition(
                app, track=Track.AHJ, to=Permit.INSPECTION_FAILED, action="inspection_failed",
                actor=actor, now=now, comment=note, extra_fields=("inspected_on",),
            )  # fmt: skip
    return app


# --- Installer after review -----------------------------------------------------------------


@dataclass(frozen=True)
class AnswerInput:
    item_id: int
    response: str
    upload: UploadedFile | None = None


def answer_deficiency(
    *, application: Application, answers: Sequence[AnswerInput], actor: User
) -> Deficiency:
    """Answer every item of the open deficiency (a comment, a re-uploaded document, or
    both; an item asking for a document only by a new version of it); the track goes back where it was and its clock resumes. All or nothing: a bad
    file leaves every answer unsaved so the installer can fix it and send again."""
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        deficiency = (
            Deficiency.objects.filter(application=app, answered_at__isnull=True)
            .order_by("created_at")
            .first()
        )
        if deficiency is None:
            raise StaleState("There is no open deficiency to answer; it was answered already.")
        items = {item.pk: item for item in deficiency.items.all()}
        by_item = {a.item_id: a for a in answers if a.item_id in items}
        unanswered = [
            item.comment[:60]
            for pk, item in items.items()
            if pk not in by_item or not (by_item[pk].response.strip() or by_item[pk].upload)
        ]
        if unanswered:
            raise InvalidInput("Answer every item (a comment or a file): " + "; ".join(unanswered))
        without_document = [
            item.comment[:60]
            for pk, item in items.items()
            if item.needs_document and not by_item[pk].upload
        ]
        if without_document:
            raise InvalidInput(
                "These items ask for a new version of a document; upload it: "
                + "; ".join(without_document)
            )
        for pk, item in items.items():
            answer = by_item[pk]
            item.response = answer.response.strip()
            if answer.upload is not None:
                item.response_document = _store_document(
                    app=app,
                    kind=item.document_kind or Kind.OTHER,
                    upload=answer.upload,
                    actor=actor,
                )
        DeficiencyItem.objects.bulk_update(list(items.values()), ["response", "response_document"])
        deficiency.answered_at = now
        deficiency.answered_by = actor
        deficiency.save(update_fields=["answered_at", "answered_by"])
        if deficiency.track == Track.UTILITY:
            back_to = app.status_before_info or Status.COMPLETENESS_REVIEW
            app.status_before_info = ""
            _transition(
                app, track=Track.UTILITY, to=back_to, action="information_provided",
                actor=actor, now=now, extra_fields=("status_before_info",),
            )  # fmt: skip
        else:
            _transition(
                app, track=Track.AHJ, to=Permit.PERMIT_REVIEW, action="corrections_provided",
                actor=actor, now=now,
            )  # fmt: skip
    return deficiency


def report_installed(*, application: Application, actor: User) -> Application:
    """The installer finished the work (or the corrections after a failed inspection): the
    AHJ is asked to inspect and the utility's completion-to-PTO clock starts."""
    now = timezone.now()
    with transaction.atomic():
        app = _lock(application.pk)
        if app.permit_status not in (Permit.PERMIT_ISSUED, Permit.INSPECTION_FAILED):
            raise TransitionNotAllowed(
                "Installation can be reported once the AHJ has issued the permit "
                f"(the permit is “{app.get_permit_status_display()}”)."
            )
        if app.needs_interconnection and app.status == Status.APPROVED_TO_INSTALL:
            _transition(
                app, track=Track.UTILITY, to=Status.INSTALLED, action="installed", actor=actor,
                now=now,
            )  # fmt: skip
        elif app.needs_interconnection and app.status != Status.INSTALLED:
            raise TransitionNotAllowed(
                f"The utility has not approved installation yet (“{app.get_status_display()}”)."
            )
        # A new request (after a failed inspection too): the earlier schedule is history.
        app.inspection_on = None
        _transition(
            app, track=Track.AHJ, to=Permit.INSPECTION_REQUESTED, action="inspection_requested",
            actor=actor, now=now, extra_fields=("inspection_on",),
        )  # fmt: skip
    return app


# --- Messages between the parties -------------------------------------------------------------

# The same person posting the same text again within this window is a double submit.
MESSAGE_DUPLICATE_WINDOW = timedelta(seconds=10)


def post_message(
    *, application: Application, author: User, party: str, body: str
) -> ApplicationMessage:
    """Add a message to the application's thread and email the other parties on commit.
    A repeat of the author's last text within ``MESSAGE_DUPLICATE_WINDOW`` returns the
    message already posted (a double click posts once). The caller has checked that
    ``author`` speaks for ``party`` on this application."""
    if party not in ApplicationMessage.Party.values:
        raise InvalidInput("Unknown party.")
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write a message first.")
    if len(body) > ApplicationMessage.MAX_LENGTH:
        raise InvalidInput(
            f"A message is at most {ApplicationMessage.MAX_LENGTH} characters "
            f"(this one has {len(body)})."
        )
    with transaction.atomic():
        app = _lock(application.pk)  # serializes concurrent posts on the thread
        if app.status == Status.DRAFT:
            raise TransitionNotAllowed(
                "Messages go to the utility and the AHJ once the application is submitted."
            )
        now = timezone.now()
        duplicate = (
            ApplicationMessage.objects.filter(
                application=app,
                author=author,
                party=party,
                body=body,
                created_at__gte=now - MESSAGE_DUPLICATE_WINDOW,
            )
            .order_by("-created_at", "-id")
            .first()
        )
        if duplicate is not None:
            return duplicate
        message = ApplicationMessage.objects.create(
            utility_id=app.utility_id,
            application=app,
            author=author,
            author_label=actor_label(user=author),
            party=party,
            body=body,
            created_at=now,
        )
        record(
            action="interconnection.message_posted",
            utility=app.utility,
            obj=app,
            actor=author,
            changes={"message_id": message.pk, "party": party, "length": len(body)},
        )
        from enrollment.interconnection.tasks import notify_message

        enqueue_on_commit(notify_message, utility_id=app.utility_id, message_id=message.pk)
    return message
