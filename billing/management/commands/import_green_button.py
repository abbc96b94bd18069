"""Import premise meter data into one service account:
``import_green_button FILE --utility SLUG --account NO [--usage-point ID]``.

Green Button XML or a ``start,kwh`` CSV (told apart by content). A file with several
UsagePoints is refused with their list unless ``--usage-point`` names one."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from billing.models import MeterImport
from billing.services.meter import (
    AccountNotFound,
    MeterFileError,
    account_by_number,
    import_meter_file,
    max_upload_bytes,
)
from portal.management.base import TenantCommand

REJECTED_SHOWN = 20


class Command(TenantCommand):
    help = "Import a Green Button (ESPI) or start,kwh CSV interval file into a service account."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", help="The Green Button XML or CSV file.")
        parser.add_argument("--account", required=True, help="The service account number.")
        parser.add_argument(
            "--usage-point",
            help="The UsagePoint to import when the file holds several (its href, the tail "
            "of it such as UsagePoint/1, its title or its Atom id).",
        )

    def handle_tenant(self, tenant, /, *args, **options):
        utility = tenant
        path = Path(options["file"])
        limit = max_upload_bytes()
        try:
            size = path.stat().st_size
            if size > limit:  # checked before the file is read
                raise CommandError(f"{path} is {size:,} bytes; the limit is {limit:,} bytes.")
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        try:
            account = account_by_number(options["account"])
            result = import_meter_file(
                utility=utility,
                account=account,
                data=data,
                filename=path.name,
                source=MeterImport.Source.COMMAND,
                usage_point=options.get("usage_point"),
            )
        except MeterFileError as exc:
            lines = [exc.message, *(f"  {point.label}" for point in exc.usage_points)]
            if exc.usage_points:
                lines.append("Name one with --usage-point.")
            raise CommandError("\n".join(lines)) from None
        except AccountNotFound as exc:
            raise CommandError(exc.message) from None
        self._report(result)

    def _report(self, result: MeterImport) -> None:
        if result.previous is not None:
            self.stdout.write(
                f"This file was already imported on {result.previous.created_at:%Y-%m-%d %H:%M %Z}"
                f" (import #{result.previous.pk})."
            )
        for warning in result.warnings:
            self.stdout.write(f"warning: {warning}")
        for where, reason in result.rejected[:REJECTED_SHOWN]:
            self.stdout.write(f"rejected: {where}: {reason}")
        if result.readings_rejected > REJECTED_SHOWN:
            self.stdout.write(f"… {result.readings_rejected - REJECTED_SHOWN} more rejected")
        self.stdout.write(
            self.style.SUCCESS(
                f"Import #{result.pk} of {result.filename} into account "
                f"{result.service_account.account_number}: {result.readings_imported} readings "
                f"imported, {result.duplicates_skipped} duplicates skipped, "
                f"{result.readings_rejected} rejected ({result.duration_ms} ms)."
            )
        )
