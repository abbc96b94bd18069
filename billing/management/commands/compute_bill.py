"""What-if bills: ``compute_bill --tariff URDB.json --intervals FILE --tz ZONE [--format json]``.

Prices any Green Button XML or ``start,kwh`` CSV interval file under any URDB tariff, month by
month, with no database row: the calculator analysts and tests use. A tariff with constructs
the engine does not compute is refused (exit status 1) with their list, unless
``--allow-unsupported`` says to bill what it can and print the warning."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.management.base import BaseCommand, CommandError

from billing.intervals import read_interval_file
from billing.rates.engine import annual_total, compute_bills
from billing.rates.urdb import MAX_DOCUMENT_BYTES, TariffError, decode_document, parse_urdb


class Command(BaseCommand):
    help = "Compute monthly bills for an interval file under a URDB tariff (no database)."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--tariff", required=True, help="URDB tariff JSON file.")
        parser.add_argument("--intervals", required=True, help="Green Button XML or CSV file.")
        parser.add_argument(
            "--tz", required=True, help="The utility's time zone, e.g. America/Denver."
        )
        parser.add_argument("--format", choices=["text", "json"], default="text")
        parser.add_argument("--usage-point", help="The UsagePoint, when the file holds several.")
        parser.add_argument(
            "--allow-unsupported",
            action="store_true",
            help="Bill a tariff with unsupported constructs anyway (they are left out; warned).",
        )

    def handle(self, *args, **options):
        try:
            tz = ZoneInfo(options["tz"])
        except (ZoneInfoNotFoundError, ValueError):
            raise CommandError(f"Unknown time zone {options['tz']!r}.") from None
        try:
            schedule = parse_urdb(decode_document(_read(options["tariff"], MAX_DOCUMENT_BYTES + 1)))
        except TariffError as error:
            raise CommandError(f"{options['tariff']}: {error}") from None
        if schedule.unsupported:
            listed = "\n".join(f"  - {item}" for item in schedule.unsupported)
            if not options["allow_unsupported"]:
                raise CommandError(
                    f"“{schedule.name}” has constructs the bill engine does not compute:\n{listed}\n"
                    "Use --allow-unsupported to bill the rest anyway."
                )
            self.stderr.write(
                f"Warning: these constructs of “{schedule.name}” are left out of the bills:\n{listed}"
            )
        path = options["intervals"]
        try:
            interval_file = read_interval_file(
                _read(path), filename=Path(path).name, usage_point=options.get("usage_point")
            )
        except ValueError as error:
            raise CommandError(f"{path}: {error}") from None
        for warning in interval_file.warnings:
            self.stderr.write(f"Note: {warning}")
        if interval_file.rejected:
            self.stderr.write(f"Note: {len(interval_file.rejected)} readings were refused.")
        bills = compute_bills(schedule, interval_file.intervals, tz)
        if options["format"] == "json":
            self.stdout.write(json.dumps(_as_json(schedule, bills, options["tz"]), indent=2))
        else:
            self.stdout.write(_as_text(schedule, bills, options["tz"]))


def _read(path: str, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as handle:
            data = handle.read() if limit is None else handle.read(limit)
    except OSError as error:
        raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
    return data


def _as_json(schedule, bills, tz_name: str) -> dict:
    return {
        "tariff": {
            "name": schedule.name,
            "label": schedule.label,
            "unsupported": list(schedule.unsupported),
        },
        "time_zone": tz_name,
        "months": [bill.to_json() for bill in bills],
        "annual": {
            "months": len(bills),
            "import_kwh": str(sum((b.import_kwh for b in bills), 0)),
            "export_kwh": str(sum((b.export_kwh for b in bills), 0)),
            "total": str(annual_total(bills)),
        },
    }


def _as_text(schedule, bills, tz_name: str) -> str:
    out = [f"{schedule.name} — bills in {tz_name}", ""]
    if not bills:
        out.append("No intervals: no bills.")
        return "\n".join(out)
    for bill in bills:
        out.append(bill.period_label)
        out.append(f"  {'Line':<58} {'Quantity':>14} {'Unit':<10} {'Rate':>12} {'Amount':>11}")
        for line in bill.lines:
            out.append(
                f"  {line.label[:58]:<58} {line.quantity:>14} {line.unit:<10} "
                f"{line.rate:>12} {line.amount:>11}"
            )
        out.append(f"  {'Total':<58} {'':>14} {'':<10} {'':>12} {bill.total:>11}")
        out.append("")
    out.append(f"Total over {len(bills)} month(s): {annual_total(bills)}")
    return "\n".join(out)
