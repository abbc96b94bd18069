"""The utility's review: acknowledgement, completeness and the fast-track screens,
engineering review, the engineer assigned, the witness test and permission to operate."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from devices.models import Charger
from enrollment.interconnection import screens
from enrollment.interconnection.models import (
    ApplicationTransition,
    Deficiency,
    InterconnectionApplication,
)
from enrollment.interconnection.services.deficiencies import DeficiencyItemInput, raise_deficiency
from enrollment.interconnection.services.errors import (
    InvalidInput,
    StaleState,
    TransitionNotAllowed,
)
from enrollment.interconnection.services.transitions import (
    apply_transition,
    check_expected,
    lock_application,
)
from enrollment.services import reevaluate_accounts
from portal.audit import record
from portal.business_days import business_days_between, holiday_calendar
from portal.models import User
from portal.roles import CAPABILITIES, Cap

Application = InterconnectionApplication
Status = Application.Status
Permit = Application.PermitStatus
Track = ApplicationTransition.Track


def acknowledge(
    *, application: Application, actor: User, expected: str | None = None
) -> Application:
    now = timezone.now()
    with transaction.atomic():
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        apply_transition(
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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
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
            apply_transition(
                app, track=Track.UTILITY, to=Status.APPROVED_TO_INSTALL, action="fast_tracked",
                actor=actor, now=now, extra_fields=fields,
                comment="Complete; every fast-track screen passed.",
            )  # fmt: skip
        else:
            apply_transition(
                app, track=Track.UTILITY, to=Status.TECHNICAL_REVIEW, action="to_engineering",
                actor=actor, now=now, extra_fields=fields,
                comment="Complete; screens failed: " + ", ".join(failed) + ".",
            )  # fmt: skip
    return app


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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        if Status.NEEDS_INFO not in Application.ALLOWED.get(app.status, ()):
            raise TransitionNotAllowed(
                f"Information can't be requested while the application is "
                f"“{app.get_status_display()}”."
            )
        deficiency = raise_deficiency(app, track=Track.UTILITY, items=items, actor=actor)
        app.status_before_info = app.status
        app.deficiency_rounds += 1
        apply_transition(
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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        if app.status != Status.TECHNICAL_REVIEW:
            raise TransitionNotAllowed("Only applications in engineering review can be approved.")
        app.decision_note = comment.strip()
        apply_transition(
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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        app.decision_note = reason
        apply_transition(
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
        app = lock_application(application.pk)
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
        app = lock_application(application.pk)
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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        if app.status == Status.PTO_GRANTED:
            raise StaleState("Permission to operate was already granted.")
        blockers = pto_blockers(app)
        if blockers:
            raise TransitionNotAllowed("PTO can't be granted yet: " + "; ".join(blockers) + ".")
        export = app.requested_export_kw if approved_export_kw is None else approved_export_kw
        if export is None or export < 0 or export > (app.requested_export_kw or 0):
            raise InvalidInput("The approved export must be between 0 and the requested export.")
        calendar = holiday_calendar(app.utility)
        app.approved_export_kw = export
        app.pto_at = now
        app.pto_by = actor
        app.business_days_to_pto = business_days_between(
            timezone.localdate(app.submitted_at, app.utility.tzinfo),
            timezone.localdate(now, app.utility.tzinfo),
            calendar,
        )
        apply_transition(
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
        app = lock_application(application.pk)
        check_expected(app, field="status", expected=expected)
        app.decision_note = reason
        apply_transition(
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
