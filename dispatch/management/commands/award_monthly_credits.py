"""Pay a program's monthly participation credit for a month that has ended (what beat does
daily for the month just ended), e.g. to catch up on an earlier month."""

from __future__ import annotations

from datetime import date

from django.core.management.base import CommandError
from django.utils import timezone

from dispatch.management.base import ProgramCommand
from dispatch.measurement import participation
from portal.models import Utility


class Command(ProgramCommand):
    help = (
        "Award the program's monthly participation credit for --month (YYYY-MM) to every "
        "enrollment that took part all month, forfeited where its customer opted out of that "
        "month's events as often as the offer allows. Safe to run again: an enrollment's "
        "credit for a month is made once."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--month", required=True, help="e.g. 2026-10.")

    def handle_tenant(self, tenant: Utility, *args, **options):
        program = self.program(tenant, options["program"])
        try:
            month = date.fromisoformat(f"{options['month'].strip()}-01")
        except ValueError:
            raise CommandError(f"--month {options['month']!r} is not YYYY-MM.") from None
        _, end = participation.month_span(program, month)
        if end > timezone.now():
            raise CommandError(f"{month:%B %Y} has not ended yet in {tenant.time_zone}.")
        result = participation.award_monthly_credits(program=program, month=month)
        if not result.offered:
            raise CommandError(f"{program.name} has no active monthly participation credit.")
        for error in result.errors:
            self.stdout.write(f"Refused: {error}")
        self.stdout.write(
            f"{month:%B %Y}: {result.awarded} awarded ({result.forfeited} forfeited), "
            f"{result.already} already paid, {len(result.errors)} refused."
        )
