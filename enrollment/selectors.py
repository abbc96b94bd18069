"""Reads behind the program and enrollment pages and the partner API. Call them inside the
utility's scope (pages under /u/<utility_slug>/ and the partner API are): the scoped managers
then keep every query to that utility. Lists load what their rows show up front, so they run
a fixed number of queries whatever the row count."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from devices.models import Vehicle
from enrollment.models import Consent, Enrollment, Program, TermsVersion
from enrollment.services.consent import RENEWAL_WINDOW
from portal.customers.models import ServiceAccount
from portal.customers.selectors import TimelineEntry
from portal.models import AuditEvent, AutomakerPartner, PartnerAgreement

Status = Enrollment.Status

# --- Programs -------------------------------------------------------------------------------


def programs() -> QuerySet[Program]:
    """Programs with their seat and waitlist counts (one query for the whole list)."""
    return Program.objects.annotate(
        seats_taken=Count("enrollments", filter=Q(enrollments__status__in=Enrollment.SEAT_STATES)),
        waitlisted=Count("enrollments", filter=Q(enrollments__status=Status.WAITLISTED)),
        in_review=Count("enrollments", filter=Q(enrollments__status=Status.ELIGIBILITY_REVIEW)),
    )


def program_status_counts(program: Program) -> list[tuple[str, str, int]]:
    """(status, label, count) for every status, zeros included."""
    counts = dict(
        Enrollment.objects.filter(program=program)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return [(value, label, counts.get(value, 0)) for value, label in Status.choices]


def terms_versions(program: Program) -> QuerySet[TermsVersion]:
    return TermsVersion.objects.filter(program=program).order_by("-effective_on", "-created_at")


def consents_due_for_renewal(
    *, program: Program, now: datetime | None = None, within: timedelta = RENEWAL_WINDOW
) -> QuerySet[Enrollment]:
    """Open enrollments (not suspended) whose valid consent runs out within ``within`` and
    that have no later one: renewal is needed before then, or ``enrollment.expire_consents``
    suspends them. Starts from the consents expiring in the window (an index range), so it
    costs the same whatever the program's size."""
    now = now or timezone.now()
    valid = {"revoked_at__isnull": True}
    later = Consent.objects.filter(
        enrollment=OuterRef("enrollment_id"), expires_at__gt=now + within, **valid
    )
    expiring = (
        Consent.objects.filter(
            expires_at__gt=now,
            expires_at__lte=now + within,
            enrollment__program=program,
            enrollment__status__in=[s for s in Enrollment.OPEN_STATES if s != Status.SUSPENDED],
            **valid,
        )
        .exclude(Exists(later))
        .values("enrollment_id")
    )
    return (
        Enrollment.objects.filter(pk__in=expiring)
        .annotate(
            consent_expires_at=Max(
                "consents__expires_at", filter=Q(consents__revoked_at__isnull=True)
            )
        )
        .select_related("service_account", "vehicle", "partner")
        .order_by("consent_expires_at", "pk")
    )


def partners_with_agreement() -> QuerySet[AutomakerPartner]:
    return AutomakerPartner.objects.filter(
        pk__in=PartnerAgreement.objects.values("partner_id")
    ).order_by("name")


# --- Enrollments ----------------------------------------------------------------------------


def enrollment_queue() -> QuerySet[Enrollment]:
    """The enrollment queue: newest first, with what a row shows."""
    return Enrollment.objects.select_related(
        "program", "service_account", "vehicle", "partner"
    ).order_by("-submitted_at", "-id")


def enrollment_with_details() -> QuerySet[Enrollment]:
    return Enrollment.objects.select_related(
        "program", "service_account", "vehicle", "vehicle__charger", "partner", "override_by"
    )


def consents_of(enrollment: Enrollment) -> QuerySet[Consent]:
    return Consent.objects.filter(enrollment=enrollment).select_related("terms_version")


def history_of(enrollment: Enrollment, *, limit: int = 100) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(
        object_type=Enrollment._meta.label_lower, object_id=str(enrollment.pk)
    ).order_by("-created_at", "-id")[:limit]


def waitlist_position(enrollment: Enrollment) -> int | None:
    """1 for the next in line; None when not waitlisted."""
    if enrollment.status != Status.WAITLISTED or enrollment.waitlisted_at is None:
        return None
    ahead = Enrollment.objects.filter(
        program_id=enrollment.program_id, status=Status.WAITLISTED
    ).filter(
        Q(waitlisted_at__lt=enrollment.waitlisted_at)
        | Q(waitlisted_at=enrollment.waitlisted_at, pk__lt=enrollment.pk)
    )
    return ahead.count() + 1


def offboarded_enrollments() -> QuerySet[Enrollment]:
    """Enrollments suspended because their partner's agreement ended."""
    return enrollment_queue().filter(
        status=Status.SUSPENDED,
        suspension_cause=Enrollment.SuspensionCause.PARTNER_OFFBOARDED,
    )


def agreements_to_offboard() -> list[tuple[PartnerAgreement, int]]:
    """Agreements no longer active whose partner still has enrollments that are open and not
    yet suspended, with how many."""
    inactive = PartnerAgreement.objects.exclude(
        status=PartnerAgreement.Status.ACTIVE
    ).select_related("partner")
    counts = dict(
        Enrollment.objects.filter(
            partner_id__in=[a.partner_id for a in inactive],
            status__in=[s for s in Enrollment.OPEN_STATES if s != Status.SUSPENDED],
        )
        .order_by()
        .values_list("partner_id")
        .annotate(n=Count("id"))
        .values_list("partner_id", "n")
    )
    return [(a, counts[a.partner_id]) for a in inactive if counts.get(a.partner_id)]


def partner_enrollments(*, partner: AutomakerPartner) -> QuerySet[Enrollment]:
    """A partner's enrollments (in the API's scope: the utilities its client may act in)."""
    return (
        Enrollment.objects.filter(partner=partner)
        .select_related("utility", "program", "service_account", "vehicle")
        .order_by("-submitted_at", "-id")
    )


def latest_consents(enrollment_ids: list[int]) -> dict[int, Consent]:
    """The newest consent of each enrollment, in one query."""
    latest: dict[int, Consent] = {}
    rows = (
        Consent.objects.filter(enrollment_id__in=enrollment_ids)
        .select_related("terms_version")
        .order_by("enrollment_id", "-accepted_at", "-id")
    )
    for consent in rows:
        latest.setdefault(consent.enrollment_id, consent)
    return latest


# --- The customer timeline ------------------------------------------------------------------


def customer_timeline(*, account: ServiceAccount, limit: int = 200) -> list[TimelineEntry]:
    """Everything about a customer on one timeline, newest first: vehicles registered at the
    account, enrollments and every status change they went through, and consents given (and
    when they run out). Four queries, whatever the customer's history."""
    entries: list[TimelineEntry] = []
    vehicles = Vehicle.objects.filter(
        Q(service_account=account) | Q(enrollments__service_account=account)
    ).distinct()
    for vehicle in vehicles:
        entries.append(
            TimelineEntry(
                at=vehicle.created_at,
                kind="vehicle",
                title=f"Vehicle registered: {vehicle.model_year} {vehicle.model}",
                detail=vehicle.vin,
                url_name="utility:vehicle_detail",
                pk=vehicle.pk,
            )
        )
    enrollments = {
        e.pk: e
        for e in Enrollment.objects.filter(service_account=account).select_related(
            "program", "vehicle"
        )
    }
    history = AuditEvent.objects.filter(
        object_type=Enrollment._meta.label_lower,
        object_id__in=[str(pk) for pk in enrollments],
    ).order_by("-created_at", "-id")[:limit]
    for event in history:
        enrollment = enrollments[int(event.object_id)]
        if event.to_state:
            title = f"{enrollment.program.name}: {Status(event.to_state).label.lower()}"
        else:
            title = f"{enrollment.program.name}: {event.action.split('.')[-1].replace('_', ' ')}"
        entries.append(
            TimelineEntry(
                at=event.created_at,
                kind="enrollment",
                title=title,
                detail=event.comment or enrollment.vehicle.vin,
                url_name="utility:enrollment_detail",
                pk=enrollment.pk,
            )
        )
    consents = Consent.objects.filter(enrollment__service_account=account).select_related(
        "terms_version", "enrollment__program"
    )
    for consent in consents:
        entries.append(
            TimelineEntry(
                at=consent.accepted_at,
                kind="consent",
                title=(
                    f"Consent to {consent.enrollment.program.name} terms "
                    f"v{consent.terms_version.version}"
                ),
                detail=(
                    f"via {consent.get_channel_display()}; shares "
                    f"{', '.join(consent.data_sharing_scope) or 'nothing'}; "
                    + (
                        f"revoked {timezone.localtime(consent.revoked_at):%Y-%m-%d}"
                        if consent.revoked_at
                        else f"valid until {timezone.localtime(consent.expires_at):%Y-%m-%d}"
                    )
                ),
                url_name="utility:enrollment_detail",
                pk=consent.enrollment_id,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]
