"""Import a utility's customers from a CSV extract: ``import_customers --utility SLUG FILE``."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError

from portal.customers.services import (
    MAX_UPLOAD_BYTES,
    CustomerFileError,
    import_customers,
    write_report,
)
from portal.management.base import TenantCommand


class Command(TenantCommand):
    help = (
        "Upsert a utility's customers by account number from a CSV extract (UTF-8, at most "
        f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB) and print the row-level report."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", help="The CSV file.")
        parser.add_argument(
            "--report",
            metavar="PATH",
            help="Write the row-level report as CSV here ('-' for standard output).",
        )

    def handle_tenant(self, tenant, /, *args, **options):
        # ``options`` holds the --utility slug under "utility"; the Utility comes first.
        utility = tenant
        path = Path(options["file"])
        try:
            size = path.stat().st_size
            if size > MAX_UPLOAD_BYTES:
                raise CommandError(
                    f"{path} is {size / (1024 * 1024):.1f} MB; at most "
                    f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB can be imported at once."
                )
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}.") from None
        try:
            result = import_customers(
                utility=utility, raw=raw, filename=path.name, source="command"
            )
        except CustomerFileError as exc:
            raise CommandError(exc.message) from None

        report = options.get("report")
        if report == "-":
            write_report(result, self.stdout)
        elif report:
            with open(report, "w", newline="", encoding="utf-8") as out:
                write_report(result, out)
        else:
            for row in result.report:
                if row["outcome"] == "rejected":
                    self.stdout.write(
                        f"row {row['row']} ({row['account_number'] or 'no account'}): "
                        + " ".join(row["reasons"])
                    )
        if result.unknown_columns:
            self.stdout.write(f"Ignored columns: {', '.join(result.unknown_columns)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Import #{result.pk} into {utility.slug}: {result.imported} imported, "
                f"{result.updated} updated, {result.unchanged} unchanged, "
                f"{result.rejected} rejected."
            )
        )
