"""The demo data set, seeded once for the module: idempotent, a working login for every role,
the programs, enrollments, incentives, interconnection applications and past events in the
states the pages need, and the scale tenant."""

from __future__ import annotations

import re
import time
from io import StringIO
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from demo.customers import CUSTOMERS_PER_DEMO_UTILITY
from demo.incentives import ensure_demo_incentives
from demo.interconnection import ensure_demo_interconnection
from demo.logins import (
    DEMO_EMAIL_DOMAIN,
    DEMO_PASSWORD,
    DEMO_TOTP_SECRET,
    LOGINS,
    SCALE_LOGINS,
    LoginSpec,
    demo_totp_code,
)
from demo.organizations import SCALE_SLUG
from demo.programs import ensure_demo_programs
from demo.scale import SCALE_AUDIT_COMMENT, scale_customer_count
from enrollment.incentives.models import (
    Dispute,
    Incentive,
    IncentiveOffer,
    LedgerEntry,
    PayoutBatch,
)
from enrollment.interconnection.models import ApplicationDocument, InterconnectionApplication
from enrollment.models import Consent, Enrollment, Program, TermsVersion
from portal.customers.models import ServiceAccount
from portal.models import (
    AHJ,
    AccessRequest,
    AHJTerritory,
    AuditEvent,
    AutomakerPartner,
    InstallerApproval,
    InstallerCompany,
    Membership,
    PartnerAgreement,
    User,
    Utility,
)
from portal.roles import ROLE_ORG_KIND, OrgKind, Role

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
COUNTED = (
    Utility,
    InstallerCompany,
    InstallerApproval,
    AHJ,
    AHJTerritory,
    AutomakerPartner,
    PartnerAgreement,
    AccessRequest,
    ServiceAccount,
    User,
    EmailAddress,
    Membership,
    Authenticator,
    AuditEvent,
)


def snapshot() -> dict[str, object]:
    with scopes_disabled():
        counts = {model.__name__: model.objects.count() for model in COUNTED}
        customers = list(
            ServiceAccount.objects.order_by("utility_id", "account_number").values_list(
                "account_number", "customer_name", "premise_address", "zip_code", "meter_id"
            )
        )
    return {"counts": counts, "customers": customers}


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_it_creates_the_demo_world(demo_world):
    output = demo_world
    utilities = {u.slug: u for u in Utility.objects.all()}
    assert {"pvp", "frec"} <= set(utilities)
    assert utilities["pvp"].time_zone != utilities["frec"].time_zone
    with scopes_disabled():
        for slug in ("pvp", "frec"):
            utility = utilities[slug]
            accounts = ServiceAccount.objects.filter(utility=utility)
            assert accounts.count() == CUSTOMERS_PER_DEMO_UTILITY
            assert set(accounts.values_list("zip_code", flat=True)) <= set(
                utility.territory_zip_codes
            )
            assert AccessRequest.objects.filter(
                utility=utility, status=AccessRequest.Status.PENDING
            ).exists()
            assert AuditEvent.objects.filter(utility=utility, action="utility.created").exists()
        both = InstallerCompany.objects.filter(approvals__isnull=False).distinct()
        assert any(c.approvals.count() == 2 for c in both)
        assert AHJTerritory.objects.count() >= 3
        agreements = PartnerAgreement.objects.filter(status=PartnerAgreement.Status.ACTIVE)
        assert any(
            agreements.filter(partner=p).count() == 1 for p in AutomakerPartner.objects.all()
        )
    assert DEMO_PASSWORD in output
    for spec in LOGINS:
        assert spec.email in output


def test_it_is_idempotent(demo_world):
    first = snapshot()
    seed()
    assert snapshot() == first


def test_it_has_a_login_for_every_role():
    roles = {role for spec in LOGINS for role, _ in spec.memberships}
    assert roles == set(Role.values)
    assert any(spec.superuser for spec in LOGINS)
    assert any(len(spec.memberships) > 1 for spec in LOGINS)


@pytest.fixture(autouse=True)
def _clean_cache():
    # Login throttling and used TOTP codes are counted in the cache; start each login clean.
    cache.clear()


def fresh_totp_code(email: str) -> str:
    code, seconds_left = demo_totp_code(email=email)
    if seconds_left < 3:  # about to roll over: wait for the next code
        time.sleep(seconds_left + 0.5)
        code, _ = demo_totp_code(email=email)
    return code


def sign_in(client, email: str):
    response = client.post(reverse("account_login"), {"login": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, response.content[:2000]
    if response["Location"] == reverse("mfa_authenticate"):
        response = client.post(reverse("mfa_authenticate"), {"code": fresh_totp_code(email)})
        assert response.status_code == 302, response.content[:2000]
    return client.get(response["Location"], follow=True)


def expected_landing(spec: LoginSpec) -> str:
    if spec.superuser or len(spec.memberships) > 1:
        return reverse("home")
    role, slug = spec.memberships[0]
    kind = ROLE_ORG_KIND[role]
    if kind == OrgKind.UTILITY:
        return reverse("utility:dashboard", kwargs={"utility_slug": slug})
    if kind == OrgKind.INSTALLER:
        return reverse("installer_workspace", kwargs={"org_slug": slug})
    return reverse("ahj_workspace", kwargs={"org_slug": slug})


@pytest.mark.parametrize("spec", LOGINS, ids=lambda spec: spec.email)
def test_it_signs_every_demo_login_in_to_its_workspace(client, demo_world, spec):
    response = sign_in(client, spec.email)
    assert response.status_code == 200
    assert response.request["PATH_INFO"] == expected_landing(spec)
    if len(spec.memberships) > 1:
        for _, slug in spec.memberships:
            assert Utility.objects.get(slug=slug).name in response.content.decode()
    if spec.superuser:
        assert client.get("/admin/").status_code == 200


def test_it_requires_totp_of_every_program_admin(demo_world):
    admins = User.objects.filter(memberships__role=Role.PROGRAM_ADMIN).distinct()
    assert admins.exists()
    for user in admins:
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def test_it_prints_a_totp_code_allauth_accepts(demo_world):
    email = f"admin@pvp.{DEMO_EMAIL_DOMAIN}"
    fresh_totp_code(email)  # step past a rollover before reading the command's code
    out = StringIO()
    call_command("demo_totp", email, stdout=out, stderr=StringIO())
    code = out.getvalue().strip()
    assert re.fullmatch(r"\d{6}", code)
    authenticator = Authenticator.objects.get(user__email=email, type=Authenticator.Type.TOTP)
    assert TOTP(authenticator).validate_code(code)


def test_it_refuses_a_totp_code_for_a_real_secret(demo_world):
    user = User.objects.create_user("someone@example.test", "x" * 16)
    TOTP.activate(user, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    with pytest.raises(CommandError):
        call_command("demo_totp", user.email, stdout=StringIO(), stderr=StringIO())
    with pytest.raises(CommandError):
        call_command("demo_totp", "nobody@example.test", stdout=StringIO(), stderr=StringIO())


def test_it_makes_and_tops_up_the_scale_tenant():
    seed(scale=25)
    utility = Utility.objects.get(slug=SCALE_SLUG)
    with scope(utility=utility.pk):
        assert ServiceAccount.objects.count() == 25
        assert AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count() == 2
    seed(scale=40)
    with scope(utility=utility.pk):
        assert ServiceAccount.objects.count() == 40
        assert AuditEvent.objects.filter(comment=SCALE_AUDIT_COMMENT).count() == 4
    admin = User.objects.get(email=SCALE_LOGINS[0].email)
    assert Membership.objects.filter(user=admin, utility=utility, role=Role.PROGRAM_ADMIN).exists()
    assert Authenticator.objects.filter(user=admin).exists()
    assert scale_customer_count() == 40


def test_the_readme_lists_every_demo_login():
    readme = README.read_text()
    for spec in (*LOGINS, *SCALE_LOGINS):
        assert spec.email in readme
    assert DEMO_PASSWORD in readme
    assert DEMO_TOTP_SECRET in readme


# --- Programs, enrollments, incentives, interconnection and past events --------------------

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


def test_it_prints_customer_authorization_codes_that_work(demo_world):
    import re

    from django_scopes import scope

    from portal.customers.authorizations import LookupParty, authorized_account

    codes = re.findall(r"  (\w+): account (\S+), ZIP (\d{5}), code (\S+)", demo_world)
    assert len(codes) >= 2
    slug, number, zip_code, code = codes[0]
    utility = Utility.objects.get(slug=slug)
    partner = AutomakerPartner.objects.filter(agreements__utility=utility).first()
    party = LookupParty(address="127.0.0.1", partner=partner, client_id="demo")
    with scope(utility=utility.pk):
        account = authorized_account(
            utility=utility, account_number=number, zip_code=zip_code, code=code, party=party
        )
    assert account.account_number == number


def test_demo_billing_has_a_tariff_assignments_and_last_months_settlement(demo_world):
    from billing.models import SettlementRun, Tariff, TariffAssignment

    for slug in ("pvp", "frec"):
        utility = Utility.objects.get(slug=slug)
        with scope(utility=utility.pk):
            (tariff,) = Tariff.objects.all()
            assert tariff.supported and tariff.document["utility"] == utility.name
            assert set(TariffAssignment.objects.values_list("rate_class", flat=True)) == set(
                ServiceAccount.RateClass.values
            )
            (run,) = SettlementRun.objects.all()
            assert run.status == SettlementRun.Status.DRAFT and run.version == 1
            assert run.period_start.day == 1 and run.period_start < timezone.localdate()
            assert run.totals["lines"] == run.enrollment_count > 0
    before = _counts_of(Tariff, TariffAssignment, SettlementRun)
    seed()
    assert _counts_of(Tariff, TariffAssignment, SettlementRun) == before


def _counts_of(*models) -> dict[str, int]:
    with scopes_disabled():
        return {m.__name__: m.objects.count() for m in models}
