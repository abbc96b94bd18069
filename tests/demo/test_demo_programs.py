"""The demo programs, enrollments, incentives and interconnection applications: made through
the services, in the states the pages need, and nothing added by a second run."""

from __future__ import annotations

import pytest
from django_scopes import scope, scopes_disabled

from demo.incentives import ensure_demo_incentives
from demo.interconnection import ensure_demo_interconnection
from demo.programs import ensure_demo_programs
from enrollment.incentives.models import (
    Dispute,
    Incentive,
    IncentiveOffer,
    LedgerEntry,
    PayoutBatch,
)
from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.models import Consent, Enrollment, Program, TermsVersion
from portal.models import AuditEvent, Utility

Status = Enrollment.Status
Application = InterconnectionApplication
MODELS = (
    Program,
    TermsVersion,
    Enrollment,
    Consent,
    IncentiveOffer,
    Incentive,
    LedgerEntry,
    PayoutBatch,
    Dispute,
    Application,
    ApplicationDocument,
    AuditEvent,
)


def _seed() -> dict[str, Utility]:
    """The demo utilities' programs and incentives (made again: nothing new may appear)."""
    utilities = {u.slug: u for u in Utility.objects.filter(slug__in=["pvp", "frec"])}
    for utility in utilities.values():
        ensure_demo_programs(utility=utility)
        ensure_demo_interconnection(utility=utility)
        ensure_demo_incentives(utility=utility)
    return utilities


def _counts() -> dict[str, int]:
    with scopes_disabled():
        return {model.__name__: model.objects.count() for model in MODELS}


def _statuses(utility: Utility, slug: str) -> set[str]:
    return set(
        Enrollment.objects.filter(program__slug=slug, utility=utility).values_list(
            "status", flat=True
        )
    )


@pytest.mark.django_db
def test_demo_programs_are_complete_and_idempotent(demo_world):
    utilities = _seed()
    first = _counts()
    _seed()
    assert _counts() == first
    assert first["Enrollment"] > 30 and first["InterconnectionApplication"] == 6

    pvp, frec = utilities["pvp"], utilities["frec"]
    with scope(utility=pvp.pk):
        programs = {p.slug: p for p in Program.objects.all()}
        assert set(programs) == {"smart-charge", "home-backup-v2h", "v2g-pilot", "peak-relief-v2h"}
        smart, v2h, v2g = (programs[s] for s in ("smart-charge", "home-backup-v2h", "v2g-pilot"))
        assert (smart.kind, smart.enrollment_cap, smart.seasons[0]["months"]) == (
            "v1g",
            500,
            [6, 7, 8, 9],
        )
        assert v2h.require_permission_to_operate and v2h.income_qualified_tier
        assert v2h.discharge_soc_floor_pct == 30 and v2h.enrollment_cap == 50
        assert all(TermsVersion.objects.filter(program=p).exists() for p in programs.values())
        assert all(p.budget_total > 0 for p in programs.values())

        assert {Status.ACTIVE, Status.ELIGIBILITY_REVIEW, Status.WITHDRAWN} <= _statuses(
            pvp, "smart-charge"
        )
        assert {Status.AWAITING_INTERCONNECTION, Status.ELIGIBILITY_REVIEW, Status.ACTIVE} <= (
            _statuses(pvp, "home-backup-v2h")
        )
        assert Enrollment.objects.filter(program=v2g, status=Status.WAITLISTED).exists()
        assert (
            Enrollment.objects.filter(program=v2g, status__in=Enrollment.SEAT_STATES).count() == 5
        )
        review = Enrollment.objects.filter(status=Status.ELIGIBILITY_REVIEW).first()
        assert review.failed_rules
        overridden = Enrollment.objects.exclude(override_reason="").get()
        assert overridden.status == Status.ACTIVE and overridden.override_by is not None
        assert Consent.objects.filter(enrollment__program=smart).exists()

        # Interconnection: one application per stage; PTO made its V2H enrollment active.
        states = set(Application.objects.values_list("status", "permit_status"))
        assert {
            (Application.Status.DRAFT, Application.PermitStatus.NOT_SUBMITTED),
            (Application.Status.NEEDS_INFO, Application.PermitStatus.PERMIT_REVIEW),
            (Application.Status.TECHNICAL_REVIEW, Application.PermitStatus.PERMIT_REVIEW),
            (Application.Status.APPROVED_TO_INSTALL, Application.PermitStatus.PERMIT_REVIEW),
            (Application.Status.INSTALLED, Application.PermitStatus.INSPECTION_PASSED),
            (Application.Status.PTO_GRANTED, Application.PermitStatus.INSPECTION_PASSED),
        } == states
        pto = Application.objects.get(status=Application.Status.PTO_GRANTED)
        assert Enrollment.objects.get(program=v2h, service_account=pto.service_account).status == (
            Status.ACTIVE
        )
        assert AuditEvent.objects.filter(action="enrollment.interconnection_granted").exists()

        # Incentives.
        rebates = Incentive.objects.filter(offer__kind=IncentiveOffer.Kind.CHARGER_REBATE)
        assert set(rebates.values_list("status", flat=True)) == {
            Incentive.Status.APPROVED,
            Incentive.Status.SUBMITTED,
        }
        assert all(r.invoice_id for r in rebates)
        performance = Incentive.objects.filter(offer__kind=IncentiveOffer.Kind.EVENT_PERFORMANCE)
        assert all(p.measured_kwh for p in performance)
        # Five awarded by hand in the summer; the rest from the measured demo events.
        assert performance.filter(period_key__startswith=f"event:{pvp.slug}-peak-").count() == 5
        measured = performance.exclude(period_key__startswith=f"event:{pvp.slug}-peak-")
        assert measured.exists() and all(p.period_key.split(":")[1].isdigit() for p in measured)
        relief = programs["peak-relief-v2h"]
        assert not relief.require_permission_to_operate
        assert Enrollment.objects.filter(program=relief, status=Status.ACTIVE).count() >= 30

        # Past events: planned, an opt-out replaced from the reserves, measured.
        from dispatch.models import Event, EventParticipant, EventPlanRun

        events = list(Event.objects.filter(program__slug__in=["peak-relief-v2h", "smart-charge"]))
        assert len(events) == 3 and all(e.status == Event.Status.COMPLETED for e in events)
        assert all(e.measured_at and e.measurement["summary"]["delivered_kwh"] > 0 for e in events)
        replans = EventPlanRun.objects.filter(kind=EventPlanRun.Kind.REPLAN)
        assert replans.exists() and all(r.added >= 1 and r.dropped >= 2 for r in replans)
        dropped = EventParticipant.objects.filter(role=EventParticipant.Role.DROPPED)
        assert {p.reason for p in dropped} == {"opted out during the event"}
        batch = PayoutBatch.objects.get()
        assert batch.status == PayoutBatch.Status.EXPORTED
        assert batch.channel == IncentiveOffer.Channel.BILL_CREDIT and batch.item_count > 0
        assert Dispute.objects.get().status == Dispute.Status.OPEN

    with scope(utility=frec.pk):
        assert set(Program.objects.values_list("slug", flat=True)) == {
            "smart-charge",
            "home-backup-v2h",
            "peak-relief-v2h",
        }
        assert Status.AWAITING_INTERCONNECTION in _statuses(frec, "home-backup-v2h")
        assert not Application.objects.exists()
        assert PayoutBatch.objects.count() == 1
