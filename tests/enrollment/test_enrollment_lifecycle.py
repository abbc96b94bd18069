"""The enrollment lifecycle services: submission and automatic decisions, conflicts, overrides,
suspension, withdrawal, the waitlist, consent expiry and renewal, re-evaluation after a rule
change, and partner offboarding."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from django_scopes import scope

from devices.models import Charger
from enrollment import eligibility, services, tasks
from enrollment.eligibility import Rule
from enrollment.models import Consent, Enrollment, Program
from portal.customers.models import ServiceAccount
from portal.models import AuditEvent, PartnerAgreement
from portal.tasking import MissingTenant
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.enrollment.factories import ConsentFactory, ProgramFactory, TermsVersionFactory
from tests.enrollment.programs_support import (
    consent_for,
    eligible_vehicle,
    partner_with_agreement,
    pto_granted,
    submit,
)
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db
Status = Enrollment.Status


@pytest.fixture
def alpha(utility_a):
    """Utility A's scope for the whole test, as a request or task would have."""
    with scope(utility=utility_a.pk):
        yield utility_a


@pytest.fixture
def program(alpha):
    return ProgramFactory(utility=alpha, name="Summer V2H", slug="summer-v2h")


@pytest.fixture
def staff(alpha):
    return UserFactory(email="analyst@alpha.test")


def history(enrollment) -> list[tuple[str, str, str]]:
    return list(
        AuditEvent.objects.filter(object_type="enrollment.enrollment", object_id=str(enrollment.pk))
        .order_by("created_at", "id")
        .values_list("action", "from_state", "to_state")
    )


def reload(enrollment) -> Enrollment:
    return Enrollment.objects.get(pk=enrollment.pk)


# --- Submission and automatic decisions -----------------------------------------------------


def test_it_activates_an_enrollment_that_passes_every_rule(program):
    vehicle = eligible_vehicle(program.utility)
    terms = TermsVersionFactory(program=program, consent_valid_days=90)
    accepted = timezone.now() - timedelta(hours=1)

    enrollment = submit(
        program, vehicle, consent=consent_for(program, terms=terms, accepted_at=accepted)
    )

    enrollment = reload(enrollment)
    assert enrollment.status == Status.ACTIVE
    assert enrollment.failed_rules == []
    assert enrollment.eligibility_rules_version == program.rules_version
    assert enrollment.activated_at is not None
    assert history(enrollment) == [
        ("enrollment.submitted", "", Status.SUBMITTED),
        ("enrollment.evaluated", Status.SUBMITTED, Status.ACTIVE),
    ]
    [consent] = Consent.objects.filter(enrollment=enrollment)
    assert consent.terms_version == terms
    assert consent.expires_at == accepted + timedelta(days=90)
    assert consent.data_sharing_scope == ["telemetry"]


def test_it_waits_for_interconnection_when_only_pto_is_missing(program):
    program.require_permission_to_operate = True
    program.save()
    enrollment = reload(submit(program, eligible_vehicle(program.utility, pto=False)))
    assert enrollment.status == Status.AWAITING_INTERCONNECTION
    assert enrollment.failed_rules == [Rule.PERMISSION_TO_OPERATE]


def test_it_waitlists_when_the_cap_is_reached(program):
    program.enrollment_cap = 1
    program.save()
    first = submit(program, eligible_vehicle(program.utility))
    second = submit(program, eligible_vehicle(program.utility))
    assert reload(first).status == Status.ACTIVE
    second = reload(second)
    assert second.status == Status.WAITLISTED
    assert second.waitlisted_at is not None
    assert "cap" in second.status_reason


def test_it_sends_failed_rules_to_review_and_says_which(program):
    account = ServiceAccountFactory(utility=program.utility, zip_code="80202", smart_meter=False)
    vehicle = eligible_vehicle(program.utility, account=account)
    enrollment = reload(submit(program, vehicle))
    assert enrollment.status == Status.ELIGIBILITY_REVIEW
    assert set(enrollment.failed_rules) == {Rule.TERRITORY, Rule.SMART_METER}
    assert "smart_meter" in enrollment.status_reason and "territory" in enrollment.status_reason
    failed = {r["rule"]: r for r in enrollment.eligibility if not r["passed"]}
    assert "80202" in failed[Rule.TERRITORY]["detail"]


def test_it_flags_income_tier_and_medical_need_without_refusing(program):
    program.income_qualified_tier = True
    program.save()
    account = ServiceAccountFactory(
        utility=program.utility, zip_code="94110", income_qualified=True, medical_need=True
    )
    enrollment = reload(submit(program, eligible_vehicle(program.utility, account=account)))
    assert enrollment.status == Status.ACTIVE
    assert enrollment.income_qualified and enrollment.excluded_from_events


def test_it_refuses_a_vehicle_already_in_a_conflicting_program(program):
    winter = ProgramFactory(utility=program.utility, name="Winter V1G", kind=Program.Kind.V1G)
    program.conflicting_programs.add(winter)
    vehicle = eligible_vehicle(program.utility)
    submit(winter, vehicle)

    with pytest.raises(services.ConflictingEnrollment, match="open enrollment in Winter V1G"):
        submit(program, vehicle)
    assert not Enrollment.objects.filter(program=program).exists()


def test_it_refuses_the_same_vehicle_twice_in_one_program(program):
    vehicle = eligible_vehicle(program.utility)
    submit(program, vehicle)
    with pytest.raises(services.ConflictingEnrollment):
        submit(program, vehicle)
    assert Enrollment.objects.filter(program=program).count() == 1


def test_it_refuses_a_second_vehicle_at_a_premise_when_the_program_allows_one(program):
    program.one_enrollment_per_premise = True
    program.save()
    account = ServiceAccountFactory(utility=program.utility, zip_code="94110")
    submit(program, eligible_vehicle(program.utility, account=account))
    with pytest.raises(services.ConflictingEnrollment, match="premise"):
        submit(program, eligible_vehicle(program.utility, account=account))


def test_it_turns_the_database_constraint_into_a_clear_conflict(program, monkeypatch):
    """Two submissions racing past the check: the partial unique constraint decides, and
    the loser gets the same clear error, not a 500."""
    vehicle = eligible_vehicle(program.utility)
    submit(program, vehicle)
    passing = eligibility.RuleResult(Rule.CONFLICTING_PROGRAMS, True, "race")
    monkeypatch.setattr(eligibility, "check_conflicts", lambda **kwargs: passing)

    with pytest.raises(services.ConflictingEnrollment, match="already has an open enrollment"):
        submit(program, vehicle)
    assert Enrollment.objects.filter(program=program).count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": Program.Status.DRAFT}, services.ProgramNotOpen),
        ({"status": Program.Status.CLOSED}, services.ProgramNotOpen),
    ],
)
def test_it_refuses_programs_not_open(program, change, error):
    for name, value in change.items():
        setattr(program, name, value)
    program.save()
    with pytest.raises(error):
        submit(program, eligible_vehicle(program.utility))


def test_it_refuses_consent_that_is_expired_future_or_for_other_terms(program):
    vehicle = eligible_vehicle(program.utility)
    other_terms = TermsVersionFactory(program=ProgramFactory(utility=program.utility))
    terms = TermsVersionFactory(program=program, consent_valid_days=30)
    cases = [
        (
            consent_for(program, terms=terms, accepted_at=timezone.now() - timedelta(days=31)),
            "expired",
        ),
        (
            consent_for(program, terms=terms, accepted_at=timezone.now() + timedelta(hours=1)),
            "future",
        ),
        (consent_for(program, terms=other_terms), "not one of this program"),
        (consent_for(program, terms=terms, scope_names=["everything"]), "Unknown data sharing"),
    ]
    for consent, why in cases:
        with pytest.raises(services.InvalidConsent, match=why):
            submit(program, vehicle, consent=consent)
    assert not Enrollment.objects.exists()


def test_it_refuses_a_vehicle_registered_at_another_account(program):
    vehicle = eligible_vehicle(program.utility)
    other = ServiceAccountFactory(utility=program.utility)
    with pytest.raises(services.VehicleNotAtAccount):
        services.submit_enrollment(
            program=program,
            account=other,
            vehicle=vehicle,
            consent=consent_for(program),
            channel=Enrollment.Channel.STAFF,
        )


def in_review(program, **account_fields) -> Enrollment:
    account = ServiceAccountFactory(utility=program.utility, zip_code="80202", **account_fields)
    enrollment = reload(submit(program, eligible_vehicle(program.utility, account=account)))
    assert enrollment.status == Status.ELIGIBILITY_REVIEW
    return enrollment


def test_it_overrides_failed_rules_with_a_required_reason(program, staff):
    enrollment = in_review(program)
    with pytest.raises(ValidationError):
        services.override(enrollment=enrollment, reason="  ", actor=staff)

    services.override(
        enrollment=enrollment, reason="Pilot premise, approved by manager", actor=staff
    )

    enrollment = reload(enrollment)
    assert enrollment.status == Status.ACTIVE
    assert enrollment.overridden_rules == [Rule.TERRITORY]
    assert enrollment.override_reason == "Pilot premise, approved by manager"
    assert enrollment.override_by == staff
    overridden = AuditEvent.objects.get(
        object_id=str(enrollment.pk), action="enrollment.overridden"
    )
    assert overridden.comment == "Pilot premise, approved by manager"
    assert overridden.actor_user == staff
    assert ("enrollment.approved", Status.ELIGIBILITY_REVIEW, Status.ACTIVE) in history(enrollment)


def test_it_never_overrides_a_missing_pto(program, staff):
    program.require_permission_to_operate = True
    program.save()
    account = ServiceAccountFactory(utility=program.utility, zip_code="80202")
    enrollment = reload(
        submit(program, eligible_vehicle(program.utility, account=account, pto=False))
    )
    services.override(enrollment=enrollment, reason="Territory edge case", actor=staff)
    assert reload(enrollment).status == Status.AWAITING_INTERCONNECTION


def test_it_approves_only_when_the_rules_now_pass(program, staff):
    enrollment = in_review(program)
    with pytest.raises(services.RulesFailed, match="territory"):
        services.approve(enrollment=enrollment, actor=staff)
    ServiceAccount.objects.filter(pk=enrollment.service_account_id).update(zip_code="94110")
    services.approve(enrollment=enrollment, comment="Address corrected", actor=staff)
    assert reload(enrollment).status == Status.ACTIVE
    approved = AuditEvent.objects.get(object_id=str(enrollment.pk), action="enrollment.approved")
    assert approved.changes["note"] == "Address corrected"


def test_it_suspends_and_reinstates(program, staff):
    enrollment = submit(program, eligible_vehicle(program.utility))
    with pytest.raises(ValidationError):
        services.suspend(enrollment=enrollment, reason="", actor=staff)
    services.suspend(enrollment=enrollment, reason="Meter swap", actor=staff)
    suspended = reload(enrollment)
    assert (suspended.status, suspended.suspension_cause) == (
        Status.SUSPENDED,
        Enrollment.SuspensionCause.STAFF,
    )
    services.reinstate(enrollment=enrollment, actor=staff)
    reinstated = reload(enrollment)
    assert (reinstated.status, reinstated.suspension_cause) == (Status.ACTIVE, "")
    assert [h[0] for h in history(enrollment)][-2:] == [
        "enrollment.suspended",
        "enrollment.reinstated",
    ]


def test_it_refuses_to_reinstate_without_a_current_consent(program, staff):
    enrollment = submit(program, eligible_vehicle(program.utility))
    services.suspend(enrollment=enrollment, reason="Check", actor=staff)
    Consent.objects.filter(enrollment=enrollment).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    with pytest.raises(services.RulesFailed, match="consent"):
        services.reinstate(enrollment=enrollment, actor=staff)
    assert reload(enrollment).status == Status.SUSPENDED


def test_it_refuses_a_stale_action_and_moves_that_are_not_allowed(program, staff):
    enrollment = submit(program, eligible_vehicle(program.utility))
    services.withdraw(enrollment=enrollment, actor=staff)
    with pytest.raises(services.StaleState, match="now “Withdrawn”"):
        services.suspend(
            enrollment=enrollment, reason="x", expected_status=Status.ACTIVE, actor=staff
        )
    with pytest.raises(services.TransitionNotAllowed):
        services.end(enrollment=enrollment, reason="Program over", actor=staff)


def test_it_withdraws_once_however_often_asked(program):
    enrollment = submit(program, eligible_vehicle(program.utility))
    _, changed = services.withdraw(enrollment=enrollment)
    _, again = services.withdraw(enrollment=enrollment)
    assert (changed, again) == (True, False)
    enrollment = reload(enrollment)
    assert enrollment.status == Status.WITHDRAWN and enrollment.ended_at is not None
    assert Consent.objects.get(enrollment=enrollment).revoked_at is not None
    assert [h[0] for h in history(enrollment)].count("enrollment.withdrawn") == 1


# --- The waitlist -----------------------------------------------------------------------------


def test_it_promotes_the_waitlist_first_in_first_out_when_a_seat_frees(program, staff):
    program.enrollment_cap = 1
    program.save()
    holder = submit(program, eligible_vehicle(program.utility))
    first, second = (submit(program, eligible_vehicle(program.utility)) for _ in range(2))
    assert [reload(e).status for e in (first, second)] == [Status.WAITLISTED] * 2

    services.end(enrollment=holder, reason="Moved away", actor=staff)

    assert reload(first).status == Status.ACTIVE
    assert reload(second).status == Status.WAITLISTED
    assert ("enrollment.promoted", Status.WAITLISTED, Status.ACTIVE) in history(first)


def test_it_rechecks_eligibility_on_promotion(program):
    program.enrollment_cap = 1
    program.save()
    holder = submit(program, eligible_vehicle(program.utility))
    first, second = (submit(program, eligible_vehicle(program.utility)) for _ in range(2))
    # The first in line lost their smart meter while waiting.
    ServiceAccount.objects.filter(pk=first.service_account_id).update(smart_meter=False)

    services.withdraw(enrollment=holder)

    first, second = reload(first), reload(second)
    assert first.status == Status.ELIGIBILITY_REVIEW
    assert first.failed_rules == [Rule.SMART_METER]
    assert second.status == Status.ACTIVE


def test_a_suspension_keeps_the_seat(program, staff):
    program.enrollment_cap = 1
    program.save()
    holder = submit(program, eligible_vehicle(program.utility))
    waiting = submit(program, eligible_vehicle(program.utility))
    services.suspend(enrollment=holder, reason="Check", actor=staff)
    assert reload(waiting).status == Status.WAITLISTED


# --- Rule changes -----------------------------------------------------------------------------


def test_it_reevaluates_open_enrollments_after_a_rule_change(
    program, staff, django_capture_on_commit_callbacks
):
    keeps = submit(program, eligible_vehicle(program.utility))
    loses_it = submit(
        program,
        eligible_vehicle(
            program.utility,
            account=ServiceAccountFactory(
                utility=program.utility,
                zip_code="94110",
                rate_class=ServiceAccount.RateClass.RESIDENTIAL,
            ),
        ),
    )
    overridden = in_review(program, rate_class=ServiceAccount.RateClass.RESIDENTIAL)
    services.override(enrollment=overridden, reason="Pilot premise", actor=staff)
    gains_it = in_review(program)

    before = services.program_snapshot(program)
    program.eligible_rate_classes = [ServiceAccount.RateClass.RESIDENTIAL_EV]
    program.eligible_zip_codes = ["80202", "94110"]
    with django_capture_on_commit_callbacks() as callbacks:
        services.save_program(program=program, before=before, conflicting=[], actor=staff)
    assert len(callbacks) == 1  # the re-evaluation task, once the change is committed
    program.refresh_from_db()
    assert program.rules_version == 2

    report = services.reevaluate_program(program_id=program.pk)

    assert report.evaluated == 4
    assert reload(keeps).status == Status.ACTIVE
    assert reload(loses_it).status == Status.ELIGIBILITY_REVIEW
    assert reload(loses_it).failed_rules == [Rule.RATE_CLASS]
    # Overridden for territory, but now failing the new rate-class rule: back to review.
    assert reload(overridden).status == Status.ELIGIBILITY_REVIEW
    assert reload(gains_it).status == Status.ACTIVE
    assert all(
        reload(e).eligibility_rules_version == 2 for e in (keeps, loses_it, overridden, gains_it)
    )
    assert services.reevaluate_program(program_id=program.pk).evaluated == 0
    changed = AuditEvent.objects.get(object_id=str(program.pk), action="program.updated")
    assert "rules version 2" in changed.comment


def test_a_reevaluation_that_changes_nothing_is_not_a_change_for_partners(program):
    enrollment = reload(submit(program, eligible_vehicle(program.utility)))
    Program.objects.filter(pk=program.pk).update(rules_version=2)
    services.reevaluate_program(program_id=program.pk)
    after = reload(enrollment)
    assert after.eligibility_rules_version == 2
    assert after.evaluated_at > enrollment.evaluated_at
    assert after.updated_at == enrollment.updated_at


def test_an_override_survives_a_reevaluation_failing_the_same_rule(program, staff):
    overridden = in_review(program)
    services.override(enrollment=overridden, reason="Pilot premise", actor=staff)
    Program.objects.filter(pk=program.pk).update(rules_version=2)
    services.reevaluate_program(program_id=program.pk)
    assert reload(overridden).status == Status.ACTIVE


def test_it_reevaluates_programs_whose_conflicts_changed(
    program, staff, django_capture_on_commit_callbacks
):
    winter = ProgramFactory(utility=program.utility, name="Winter V1G")
    vehicle = eligible_vehicle(program.utility)
    in_winter, in_summer = submit(winter, vehicle), submit(program, vehicle)

    before = services.program_snapshot(program)
    with django_capture_on_commit_callbacks() as callbacks:
        services.save_program(program=program, before=before, conflicting=[winter], actor=staff)
    assert len(callbacks) == 2
    winter.refresh_from_db()
    assert winter.rules_version == 2
    for prog in (program, winter):
        services.reevaluate_program(program_id=prog.pk)
    assert reload(in_summer).failed_rules == [Rule.CONFLICTING_PROGRAMS]
    assert reload(in_winter).failed_rules == [Rule.CONFLICTING_PROGRAMS]


def test_a_larger_cap_promotes_the_waitlist(program, staff, django_capture_on_commit_callbacks):
    program.enrollment_cap = 1
    program.save()
    submit(program, eligible_vehicle(program.utility))
    waiting = submit(program, eligible_vehicle(program.utility))
    before = services.program_snapshot(program)
    program.enrollment_cap = 2
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.save_program(program=program, before=before, conflicting=[], actor=staff)
    assert len(callbacks) == 1
    services.reevaluate_program(program_id=program.pk)
    assert reload(waiting).status == Status.ACTIVE


def test_the_reevaluation_task_runs_in_its_utilitys_scope(program, utility_a):
    submit(program, eligible_vehicle(program.utility))
    Program.objects.filter(pk=program.pk).update(rules_version=5)
    with pytest.raises(MissingTenant):
        tasks.reevaluate_program.apply(kwargs={"program_id": program.pk}).get()
    result = tasks.reevaluate_program.apply(
        kwargs={"utility_id": utility_a.pk, "program_id": program.pk}
    ).get()
    assert result["evaluated"] == 1


# --- Consent expiry, renewal ----------------------------------------------------------------


def test_it_suspends_enrollments_whose_consent_expired_and_renewal_reinstates(program, utility_a):
    expiring = submit(program, eligible_vehicle(program.utility))
    current = submit(program, eligible_vehicle(program.utility))
    Consent.objects.filter(enrollment=expiring).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    result = tasks.expire_consents.apply(kwargs={"utility_id": utility_a.pk}).get()

    assert result == {"suspended": 1}
    expired = reload(expiring)
    assert (expired.status, expired.suspension_cause) == (
        Status.SUSPENDED,
        Enrollment.SuspensionCause.CONSENT_EXPIRED,
    )
    assert reload(current).status == Status.ACTIVE
    assert tasks.expire_consents.apply(kwargs={"utility_id": utility_a.pk}).get() == {
        "suspended": 0
    }

    services.renew_consent(enrollment=expired, consent=consent_for(program))
    assert reload(expired).status == Status.ACTIVE
    assert [h[0] for h in history(expired)][-3:] == [
        "enrollment.consent_expired",
        "enrollment.consent_recorded",
        "enrollment.reinstated",
    ]


def test_it_lists_consents_due_for_renewal_within_30_days(program):
    from enrollment import selectors

    due = submit(program, eligible_vehicle(program.utility))
    later = submit(program, eligible_vehicle(program.utility))
    Consent.objects.filter(enrollment=due).update(expires_at=timezone.now() + timedelta(days=10))
    ConsentFactory(enrollment=reload(later), terms_version=TermsVersionFactory(program=program))

    assert list(selectors.consents_due_for_renewal(program=program)) == [reload(due)]


def test_the_expiry_fan_out_reaches_every_utility_with_active_enrollments(
    program, utility_b, monkeypatch
):
    submit(program, eligible_vehicle(program.utility))
    sent = []
    monkeypatch.setattr(tasks.expire_consents, "delay", lambda **kwargs: sent.append(kwargs))
    assert tasks.expire_consents_everywhere.apply().get() == 1
    assert sent == [{"utility_id": program.utility_id}]


# --- Offboarding --------------------------------------------------------------------------------


def test_offboarding_suspends_active_and_withdraws_pending_enrollments(program, staff):
    program.enrollment_cap = 2
    program.save()
    partner = partner_with_agreement(program.utility, name="Leaving Motors")
    staying = partner_with_agreement(program.utility, name="Staying Motors")
    active = submit(program, eligible_vehicle(program.utility, partner=partner))
    waitlisted_other = None
    other_active = submit(program, eligible_vehicle(program.utility, partner=staying))
    pending = submit(program, eligible_vehicle(program.utility, partner=partner))
    waitlisted_other = submit(program, eligible_vehicle(program.utility, partner=staying))
    assert reload(pending).status == Status.WAITLISTED

    agreement = PartnerAgreement.objects.get(partner=partner)
    agreement.status = PartnerAgreement.Status.ENDED
    agreement.save()
    report = services.offboard_partner(agreement=agreement, actor=staff)

    assert [e.pk for e in report.suspended] == [active.pk]
    assert [e.pk for e in report.withdrawn] == [pending.pk]
    suspended = reload(active)
    assert suspended.suspension_cause == Enrollment.SuspensionCause.PARTNER_OFFBOARDED
    assert reload(pending).status == Status.WITHDRAWN
    assert reload(other_active).status == Status.ACTIVE
    assert reload(waitlisted_other).status == Status.WAITLISTED  # the suspended keep their seat
    again = services.offboard_partner(agreement=agreement, actor=staff)
    assert (again.suspended, again.withdrawn) == ([], [])
    with pytest.raises(services.RulesFailed, match="agreement"):
        services.reinstate(enrollment=active, actor=staff)


# --- Bulk review ------------------------------------------------------------------------------


def test_bulk_review_handles_each_enrollment_on_its_own(program, staff):
    fixed, still_failing = in_review(program), in_review(program)
    ServiceAccount.objects.filter(pk=fixed.service_account_id).update(zip_code="94110")
    result = services.bulk_review(
        enrollment_ids=[fixed.pk, still_failing.pk], action="approve", reason="", actor=staff
    )
    assert result.done == [fixed.pk]
    assert "territory" in result.refused[still_failing.pk]

    with pytest.raises(ValidationError):
        services.bulk_review(enrollment_ids=[still_failing.pk], action="override", reason="")
    result = services.bulk_review(
        enrollment_ids=[still_failing.pk], action="override", reason="Agreed", actor=staff
    )
    assert result.done == [still_failing.pk]
    assert reload(still_failing).status == Status.ACTIVE


def test_pto_comes_from_the_interconnection_application_not_a_charger_field(program):
    program.require_permission_to_operate = True
    program.save()
    waiting = reload(submit(program, eligible_vehicle(program.utility, pto=False)))
    # An import (or the admin) setting the charger's export limit grants nothing.
    Charger.objects.filter(pk=waiting.vehicle.charger_id).update(approved_export_kw=7.6)
    Program.objects.filter(pk=program.pk).update(rules_version=2)
    services.reevaluate_program(program_id=program.pk)
    assert reload(waiting).status == Status.AWAITING_INTERCONNECTION
    # The premise's application for that charger holding PTO does.
    pto_granted(account=waiting.service_account, charger=waiting.vehicle.charger, export_kw=7.6)
    Program.objects.filter(pk=program.pk).update(rules_version=3)
    services.reevaluate_program(program_id=program.pk)
    waiting = reload(waiting)
    assert waiting.status == Status.ACTIVE
    assert waiting.failed_rules == []


def test_staff_may_enroll_a_vehicle_without_an_account_link(program, staff):
    vehicle = VehicleFactory(utility=program.utility, service_account=None)
    account = ServiceAccountFactory(utility=program.utility, zip_code="94110")
    enrollment, created = services.submit_enrollment(
        program=program,
        account=account,
        vehicle=vehicle,
        consent=consent_for(program),
        channel=Enrollment.Channel.STAFF,
        actor=staff,
    )
    assert created and reload(enrollment).status == Status.ELIGIBILITY_REVIEW  # no charger
    assert Rule.APPROVED_EQUIPMENT in reload(enrollment).failed_rules


# --- Concurrency (PostgreSQL row locks) -------------------------------------------------------


def run_together(*calls):
    """Run ``calls`` in threads released at the same moment; their results or exceptions."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            outcomes[index] = call()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_submissions_never_both_take_the_last_seat(utility_a):
    program = ProgramFactory(utility=utility_a, enrollment_cap=1)
    terms = TermsVersionFactory(program=program)
    vehicles = [eligible_vehicle(utility_a) for _ in range(2)]

    outcomes = run_together(*(lambda v=v: submit(program, v, terms=terms) for v in vehicles))

    with scope(utility=utility_a.pk):
        statuses = sorted(Enrollment.objects.get(pk=e.pk).status for e in outcomes)
    assert statuses == [Status.ACTIVE, Status.WAITLISTED]


@pytest.mark.django_db(transaction=True)
def test_a_retry_racing_the_first_request_gets_the_same_enrollment(utility_a):
    program = ProgramFactory(utility=utility_a)
    terms = TermsVersionFactory(program=program)
    vehicle = eligible_vehicle(utility_a)
    consent = consent_for(program, terms=terms)

    def attempt():
        with scope(utility=utility_a.pk):
            return services.submit_enrollment(
                program=program,
                account=vehicle.service_account,
                vehicle=vehicle,
                consent=consent,
                channel=Enrollment.Channel.AUTOMAKER_APP,
                partner=vehicle.partner,
                idempotency_key="same-key",
                idempotency_fingerprint="same-body",
            )

    outcomes = run_together(attempt, attempt)

    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert outcomes[0][0].pk == outcomes[1][0].pk
    assert sorted(created for _, created in outcomes) == [False, True]
