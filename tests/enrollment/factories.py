"""Factories for programs, terms versions, enrollments and consents. Rows are created with
scopes disabled, like the other factories."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from enrollment.models import Consent, Enrollment, Program, TermsVersion
from tests.customers.factories import ServiceAccountFactory
from tests.devices.factories import VehicleFactory
from tests.portal.factories import ScopelessFactory, UtilityFactory


class ProgramFactory(ScopelessFactory):
    class Meta:
        model = Program

    utility = factory.SubFactory(UtilityFactory)
    name = factory.Sequence(lambda n: f"Program {n}")
    slug = factory.Sequence(lambda n: f"program-{n}")
    kind = Program.Kind.V2H
    status = Program.Status.OPEN
    require_approved_equipment = True
    require_smart_meter = True


class TermsVersionFactory(ScopelessFactory):
    class Meta:
        model = TermsVersion

    program = factory.SubFactory(ProgramFactory)
    utility = factory.SelfAttribute("program.utility")
    version = factory.Sequence(lambda n: f"2026.{n}")
    title = "Program terms"
    body = "The customer lets the utility manage charging and discharging within limits."
    effective_on = factory.LazyFunction(lambda: timezone.localdate() - timedelta(days=30))
    consent_valid_days = 365


class EnrollmentFactory(ScopelessFactory):
    """An enrollment row as it stands, without going through the services (for lists,
    isolation cases and benchmarks)."""

    class Meta:
        model = Enrollment

    program = factory.SubFactory(ProgramFactory)
    utility = factory.SelfAttribute("program.utility")
    service_account = factory.SubFactory(
        ServiceAccountFactory, utility=factory.SelfAttribute("..utility")
    )
    vehicle = factory.SubFactory(
        VehicleFactory,
        utility=factory.SelfAttribute("..utility"),
        service_account=factory.SelfAttribute("..service_account"),
    )
    partner = factory.SelfAttribute("vehicle.partner")
    channel = Enrollment.Channel.AUTOMAKER_APP
    status = Enrollment.Status.ACTIVE


class ConsentFactory(ScopelessFactory):
    class Meta:
        model = Consent

    enrollment = factory.SubFactory(EnrollmentFactory)
    utility = factory.SelfAttribute("enrollment.utility")
    terms_version = factory.SubFactory(
        TermsVersionFactory, program=factory.SelfAttribute("..enrollment.program")
    )
    accepted_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    channel = Enrollment.Channel.AUTOMAKER_APP
    data_sharing_scope = factory.LazyFunction(lambda: ["telemetry"])
    expires_at = factory.LazyAttribute(
        lambda c: c.accepted_at + timedelta(days=c.terms_version.consent_valid_days)
    )
