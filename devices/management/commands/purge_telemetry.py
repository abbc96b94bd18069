"""Delete a utility's raw telemetry older than N days. Rollups and latest states are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.core.management.base import CommandError

from devices.telemetry.readings import late_window
from devices.telemetry.retention import minimum_retention, purge_readings
from portal.audit import record
from portal.management.base import TenantCommand
from portal.models import Utility


class Command(TenantCommand):
    help = (
        "Delete the utility's raw telemetry readings older than --older-than-days, in "
        "batches; the 15-minute rollups and the latest states are kept."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--older-than-days", type=int, required=True)
        parser.add_argument(
            "--batch-size", type=int, default=10_000, help="Rows per DELETE (default 10000)."
        )

    def handle_tenant(self, tenant: Utility, *args, **options):
        # options['utility'] is the slug; the base passes the Utility positionally.
        days, batch_size = options["older_than_days"], options["batch_size"]
        minimum = minimum_retention()
        if timedelta(days=days) < minimum:
            raise CommandError(
                f"Keep at least {minimum.days + 1} days: younger readings may still be joined "
                f"by late ones (accepted up to {late_window().days} days late)."
            )
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        deleted = purge_readings(
            utility=tenant,
            older_than=datetime.now(UTC) - timedelta(days=days),
            batch_size=batch_size,
        )
        record(
            action="telemetry.purged",
            utility=tenant,
            comment=f"Raw telemetry older than {days} days deleted",
            changes={"older_than_days": days, "deleted": deleted},
        )
        self.stdout.write(f"Deleted {deleted} readings older than {days} days in {tenant.slug}.")
