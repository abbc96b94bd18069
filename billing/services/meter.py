"""Importing premise meter data (Green Button XML or CSV) into one service account.

An import reads the whole file first (billing.intervals: refused files raise before anything
is stored), then, with the account locked so two imports of one account run one after the
other, classifies each interval against what is stored: the same start is a duplicate
(skipped, counted, the stored value kept), a different start inside a stored interval is
rejected (the account's series never double-counts a period), the rest is inserted with one
binary COPY (``portal.bulk.bulk_insert``). The import row, its intervals and its audit row
commit together.
"""

from __future__ import annotations

import bisect
import hashlib
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from billing.intervals import (
    Interval,
    IntervalFile,
    MultipleUsagePoints,
    UsagePointInfo,
    read_interval_file,
)
from billing.models import MeterImport, MeterInterval
from portal import audit
from portal.bulk import bulk_insert
from portal.customers.models import ServiceAccount
from portal.errors import DomainError
from portal.models import User, Utility

# Stored intervals that start this long before a file's first interval are looked at for
# overlaps: no interval series the portal imports is coarser than daily.
OVERLAP_LOOKBACK = timedelta(days=1)
_COLUMNS = ("utility_id", "service_account_id", "start", "seconds", "kwh", "meter_import_id")


class MeterFileError(DomainError):
    """The file is refused as a whole; nothing of it is stored."""

    code = "meter_file_refused"

    def __init__(self, message: str, *, usage_points: list[UsagePointInfo] | None = None):
        super().__init__(message, usage_points=usage_points or [])
        self.usage_points = usage_points or []


class AccountNotFound(DomainError):
    code = "account_not_found"


def max_upload_bytes() -> int:
    return settings.BILLING_MAX_UPLOAD_BYTES


def account_by_number(account_number: str) -> ServiceAccount:
    """The current utility's account with this number (another utility's is "not found")."""
    number = account_number.strip()
    account = ServiceAccount.objects.filter(account_number=number).first() if number else None
    if account is None:
        raise AccountNotFound(f"No service account {number!r} found.")
    return account


def read_meter_file(*, data: bytes, filename: str, usage_point: str | None) -> IntervalFile:
    """The file's intervals, or MeterFileError saying why it is refused."""
    limit = max_upload_bytes()
    if len(data) > limit:
        raise MeterFileError(f"The file is {len(data):,} bytes; the limit is {limit:,} bytes.")
    try:
        return read_interval_file(
            data, filename=filename, usage_point=usage_point or None, max_bytes=limit
        )
    except MultipleUsagePoints as error:
        raise MeterFileError(
            f"The file holds {len(error.usage_points)} UsagePoints; choose the one to import.",
            usage_points=error.usage_points,
        ) from error
    except ValueError as error:  # HostileXml, MalformedXml, IntervalFileError
        raise MeterFileError(f"The file was refused: {error}") from error


def _classify(
    account: ServiceAccount, intervals: list[Interval]
) -> tuple[list[Interval], int, int, list[tuple[str, str]]]:
    """(new intervals, duplicates, duplicates whose kWh differs, rejected overlaps) against
    the account's stored intervals."""
    if not intervals:
        return [], 0, 0, []
    stored = list(
        MeterInterval.objects.filter(
            service_account=account,
            start__gte=intervals[0].start - OVERLAP_LOOKBACK,
            start__lt=intervals[-1].end,
        )
        .order_by("start")
        .values_list("start", "seconds", "kwh", "meter_import_id")
    )
    starts = [row[0] for row in stored]
    by_start = {row[0]: row for row in stored}
    fresh, duplicates, differing, rejected = [], 0, 0, []
    for interval in intervals:
        same = by_start.get(interval.start)
        if same is not None:
            duplicates += 1
            differing += same[2] != interval.kwh
            continue
        position = bisect.bisect_left(starts, interval.start)
        before = stored[position - 1] if position else None
        after = stored[position] if position < len(stored) else None
        clash = None
        if before is not None and before[0] + timedelta(seconds=before[1]) > interval.start:
            clash = before
        elif after is not None and after[0] < interval.end:
            clash = after
        if clash is not None:
            rejected.append(
                (
                    interval.start.isoformat(),
                    f"overlaps the stored interval starting {clash[0].isoformat()} "
                    f"(import #{clash[3]})",
                )
            )
            continue
        fresh.append(interval)
    return fresh, duplicates, differing, rejected


def import_meter_file(
    *,
    utility: Utility,
    account: ServiceAccount,
    data: bytes,
    filename: str,
    actor: User | None = None,
    source: str = MeterImport.Source.UPLOAD,
    usage_point: str | None = None,
) -> MeterImport:
    """Import a Green Button or CSV file into ``account``; returns the import with its report.
    Raises MeterFileError (nothing stored) when the file is refused."""
    started = time.perf_counter()
    parsed = read_meter_file(data=data, filename=filename, usage_point=usage_point)
    digest = hashlib.sha256(data).hexdigest()
    intervals = parsed.intervals
    with transaction.atomic():
        # Imports into one account run one at a time: the overlap check reads what the
        # other would write.
        ServiceAccount.objects.select_for_update(of=("self",)).filter(pk=account.pk).first()
        previous = (
            MeterImport.objects.filter(service_account=account, sha256=digest)
            .order_by("created_at", "id")
            .first()
        )
        fresh, duplicates, differing, overlaps = _classify(account, intervals)
        rejected = [*parsed.rejected, *overlaps]
        warnings = list(parsed.warnings)
        if differing:
            warnings.append(
                f"{differing} duplicate reading(s) differ from the stored value; the stored "
                "value was kept"
            )
        meter_import = MeterImport.objects.create(
            utility=utility,
            service_account=account,
            filename=filename[:255],
            sha256=digest,
            kind=parsed.kind,
            source=source,
            usage_point=(parsed.usage_point or "")[:500],
            created_by=actor if actor is not None and actor.is_authenticated else None,
            previous=previous,
            readings_in_file=len(intervals),
            readings_rejected=len(rejected),
            rejected=[list(pair) for pair in rejected[: MeterImport.REJECTED_KEPT]],
            warnings=warnings,
            first_start=intervals[0].start if intervals else None,
            last_end=intervals[-1].end if intervals else None,
        )
        inserted = bulk_insert(
            MeterInterval,
            _COLUMNS,
            [(utility.pk, account.pk, i.start, i.seconds, i.kwh, meter_import.pk) for i in fresh],
            conflict="ON CONFLICT (service_account_id, start) DO NOTHING",
            returning=("id",),
        )
        meter_import.readings_imported = len(inserted)
        meter_import.duplicates_skipped = duplicates + len(fresh) - len(inserted)
        meter_import.duration_ms = int((time.perf_counter() - started) * 1000)
        meter_import.save(update_fields=["readings_imported", "duplicates_skipped", "duration_ms"])
        audit.record(
            action="billing.meter_imported",
            utility=utility,
            obj=meter_import,
            actor=actor,
            comment=(
                f"{filename} into account {account.account_number}: "
                f"{meter_import.readings_imported} imported, "
                f"{meter_import.duplicates_skipped} duplicates skipped, "
                f"{meter_import.readings_rejected} rejected"
            ),
            changes={
                "sha256": digest,
                "kind": parsed.kind,
                "readings_imported": meter_import.readings_imported,
                "duplicates_skipped": meter_import.duplicates_skipped,
                "readings_rejected": meter_import.readings_rejected,
                "previous_import": previous.pk if previous else None,
            },
        )
    return meter_import
