"""``ProgramCommand``: a tenant command about one of the utility's programs (``--program``)."""

from __future__ import annotations

from django.core.management.base import CommandError

from enrollment.models import Program
from portal.management.base import TenantCommand
from portal.models import Utility


class ProgramCommand(TenantCommand):
    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--program", required=True, help="The program's slug.")

    def program(self, tenant: Utility, slug: str) -> Program:
        """The utility's program (call inside its scope); ``CommandError`` when it has none."""
        try:
            return Program.objects.select_related("utility").get(slug=slug)
        except Program.DoesNotExist:
            raise CommandError(f"{tenant.slug} has no program {slug!r}.") from None
