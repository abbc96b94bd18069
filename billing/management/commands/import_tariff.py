"""Import a URDB tariff: ``import_tariff FILE --utility SLUG [--effective-from D] [--effective-to D]``.

The same service as the import page: a new version of a tariff already here ends the one in
force the day before; overlapping versions are refused; unsupported constructs are listed."""

from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError

from billing.rates.urdb import MAX_DOCUMENT_BYTES, TariffError, decode_document
from billing.services.tariffs import TariffRefused, import_tariff
from portal.management.base import TenantCommand


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD).") from None


class Command(TenantCommand):
    help = "Import an OpenEI URDB tariff JSON file as a new tariff version of the utility."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("file", help="URDB JSON: the API's answer or a bare tariff object.")
        parser.add_argument("--effective-from", type=_date, help="Default: the tariff's startdate.")
        parser.add_argument("--effective-to", type=_date, help="Default: open-ended.")

    def handle_tenant(self, utility, *args, **options):
        path = options["file"]
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
        try:
            report = import_tariff(
                utility=utility,
                document=decode_document(data),
                effective_from=options["effective_from"],
                effective_to=options["effective_to"],
            )
        except (TariffError, TariffRefused) as error:
            raise CommandError(f"{path}: {error}") from None
        tariff = report.tariff
        self.stdout.write(
            f"Imported “{tariff.name}” version {tariff.version} (#{tariff.pk}), in force from "
            f"{tariff.effective_from} to {tariff.effective_to or 'open-ended'}."
        )
        if report.closed_previous:
            previous = report.closed_previous
            self.stdout.write(f"Version {previous.version} now ends {previous.effective_to}.")
        for construct in report.supported_constructs:
            self.stdout.write(f"  supported: {construct}")
        for item in report.unsupported:
            self.stdout.write(f"  NOT SUPPORTED: {item}")
        if report.unsupported:
            self.stdout.write("The tariff is marked unsupported: bills under it are refused.")
