"""Pay a program's seasonal capacity incentive ($/kW-season) on each enrollment's average
delivered kW over the season's measured events."""

from __future__ import annotations

from django.core.management.base import CommandError

from dispatch.management.base import ProgramCommand
from dispatch.measurement.baselines import MeasurementError
from dispatch.measurement.incentives import award_season_capacity
from portal.models import Utility


class Command(ProgramCommand):
    help = (
        "Award the program's capacity payment for --season (e.g. 'Summer 2026') to every "
        "enrollment dispatched in that season's measured events, on its average delivered kW. "
        "Safe to run again: an enrollment's award for a season is made once."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--season", required=True, help="e.g. 'Summer 2026'.")

    def handle_tenant(self, tenant: Utility, *args, **options):
        program = self.program(tenant, options["program"])
        try:
            awards = award_season_capacity(program=program, season=options["season"])
        except MeasurementError as exc:
            raise CommandError(exc.message) from None
        refused = [a for a in awards if a.error]
        for award in awards:
            outcome = (
                f"refused: {award.error}" if award.error else f"incentive #{award.incentive_id}"
            )
            self.stdout.write(
                f"Enrollment #{award.enrollment_id}: {award.average_kw:g} kW over "
                f"{award.events} event(s) — {outcome}"
            )
        self.stdout.write(f"{len(awards) - len(refused)} awarded, {len(refused)} refused.")
