"""Tariff writes: import a URDB document as a new tariff version, assign tariffs, end
assignments. Each write is audited (portal.audit) and all-or-nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from billing.models import Tariff, TariffAssignment
from billing.rates.schedule import TariffSchedule
from billing.rates.urdb import parse_urdb
from portal import audit


class TariffRefused(ValueError):
    """A write that would break the tariff rules (overlapping versions or assignments)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ImportReport:
    tariff: Tariff
    schedule: TariffSchedule
    closed_previous: Tariff | None

    @property
    def supported_constructs(self) -> tuple[str, ...]:
        return self.schedule.supported_constructs

    @property
    def unsupported(self) -> tuple[str, ...]:
        return self.schedule.unsupported


def import_tariff(
    *,
    utility,
    document: Any,
    actor=None,
    effective_from: date | None = None,
    effective_to: date | None = None,
) -> ImportReport:
    """Store ``document`` (a decoded URDB document: ``{"items": [tariff]}`` or a bare tariff)
    as the next version of its tariff. The version starts ``effective_from`` (default: the
    document's ``startdate``; one of them is required); the version in force then is closed
    the day before. A version starting on or after the new one, or one
    the new version would overlap, refuses the import. Raises TariffError / TariffRefused;
    nothing is stored then."""
    schedule = parse_urdb(document)
    tariff_doc = document["items"][0] if "items" in document else document
    start = effective_from or schedule.start_date
    if start is None:
        raise TariffRefused("The document has no startdate: give the date the tariff starts.")
    if effective_to is not None and effective_to < start:
        raise TariffRefused("The tariff cannot end before it starts.")
    with transaction.atomic():
        versions = list(
            Tariff.objects.select_for_update().filter(name=schedule.name).order_by("effective_from")
        )
        closed = _close_previous(versions, start, effective_to, actor=actor)
        try:
            with transaction.atomic():
                tariff = Tariff.objects.create(
                    utility=utility,
                    name=schedule.name,
                    utility_name=schedule.utility_name[:300],
                    urdb_label=schedule.label[:64],
                    version=max((v.version for v in versions), default=0) + 1,
                    effective_from=start,
                    effective_to=effective_to,
                    document=tariff_doc,
                    schedule=schedule.to_json(),
                    supported=schedule.supported,
                    unsupported=list(schedule.unsupported),
                    created_by=actor,
                )
        except IntegrityError:
            # Another import of the same tariff committed first; its version holds the place.
            raise TariffRefused(
                f"“{schedule.name}” was imported by someone else just now; reload and retry."
            ) from None
        audit.record(
            action="billing.tariff_imported",
            utility=utility,
            obj=tariff,
            actor=actor,
            to_state="supported" if tariff.supported else "unsupported",
            comment=f"{tariff} from {tariff.effective_from}",
            changes={
                "urdb_label": tariff.urdb_label,
                "effective_from": str(tariff.effective_from),
                "effective_to": str(tariff.effective_to or ""),
                "unsupported": list(schedule.unsupported),
            },
        )
    return ImportReport(tariff=tariff, schedule=schedule, closed_previous=closed)


def _close_previous(versions: list[Tariff], start: date, end: date | None, *, actor):
    later = [v for v in versions if v.effective_from >= start]
    if later:
        first = later[0]
        raise TariffRefused(
            f"Version {first.version} of “{first.name}” starts on {first.effective_from}, "
            f"on or after this version's start ({start}): versions may not overlap."
        )
    if not versions:
        return None
    previous = versions[-1]
    if previous.effective_to is not None and previous.effective_to < start:
        return None
    closing = start - timedelta(days=1)
    if closing < previous.effective_from:
        raise TariffRefused(f"Version {previous.version} would be left with no days.")
    before = previous.effective_to
    Tariff.objects.filter(pk=previous.pk).update(effective_to=closing)
    previous.effective_to = closing
    audit.record(
        action="billing.tariff_version_closed",
        utility=previous.utility,
        obj=previous,
        actor=actor,
        comment=f"{previous} ends {closing}: a new version starts {start}",
        changes={"effective_to": [str(before or ""), str(closing)]},
    )
    return previous


def assign_tariff(
    *,
    utility,
    tariff: Tariff,
    effective_from: date,
    effective_to: date | None = None,
    rate_class: str = "",
    service_account=None,
    actor=None,
) -> TariffAssignment:
    """Apply ``tariff`` to a rate class or to one service account (exactly one of them) from
    ``effective_from``. An assignment of the same rate class or account overlapping these
    dates refuses it (end that one first)."""
    if bool(rate_class) == (service_account is not None):
        raise TariffRefused("Assign the tariff to a rate class or to one service account.")
    if effective_to is not None and effective_to < effective_from:
        raise TariffRefused("The assignment cannot end before it starts.")
    target = (
        Q(service_account=service_account)
        if service_account is not None
        else Q(rate_class=rate_class)
    )
    with transaction.atomic():
        existing = list(TariffAssignment.objects.select_for_update().filter(target))
        for other in existing:
            if _overlaps(other.effective_from, other.effective_to, effective_from, effective_to):
                ends = other.effective_to or "open-ended"
                raise TariffRefused(
                    f"“{other.tariff.name}” is already assigned from {other.effective_from} "
                    f"to {ends}; end that assignment first."
                )
        assignment = TariffAssignment.objects.create(
            utility=utility,
            tariff=tariff,
            rate_class=rate_class,
            service_account=service_account,
            effective_from=effective_from,
            effective_to=effective_to,
            created_by=actor,
        )
        audit.record(
            action="billing.tariff_assigned",
            utility=utility,
            obj=assignment,
            actor=actor,
            to_state="assigned",
            comment=f"{tariff.name} for {assignment.target_label} from {effective_from}",
            changes={"tariff": tariff.pk, "effective_to": str(effective_to or "")},
        )
    return assignment


def end_assignment(*, assignment: TariffAssignment, last_day: date, actor=None) -> TariffAssignment:
    """End an assignment on ``last_day`` (inclusive). Compare-and-set on its current end, so
    two people ending it at once cannot both win."""
    if last_day < assignment.effective_from:
        raise TariffRefused(
            f"The assignment starts on {assignment.effective_from}; it cannot end before that."
        )
    if assignment.effective_to is not None and assignment.effective_to <= last_day:
        raise TariffRefused(f"The assignment already ends on {assignment.effective_to}.")
    with transaction.atomic():
        changed = TariffAssignment.objects.filter(
            pk=assignment.pk, effective_to=assignment.effective_to
        ).update(effective_to=last_day)
        if changed != 1:
            raise TariffRefused("The assignment was changed by someone else; reload the page.")
        audit.record(
            action="billing.tariff_assignment_ended",
            utility=assignment.utility,
            obj=assignment,
            actor=actor,
            from_state="assigned",
            to_state="ended",
            comment=f"{assignment.tariff.name} for {assignment.target_label} ends {last_day}",
            changes={"effective_to": [str(assignment.effective_to or ""), str(last_day)]},
        )
    assignment.effective_to = last_day
    return assignment


def _overlaps(a_start: date, a_end: date | None, b_start: date, b_end: date | None) -> bool:
    return (a_end is None or a_end >= b_start) and (b_end is None or b_end >= a_start)
