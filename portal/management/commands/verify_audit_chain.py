"""``manage.py verify_audit_chain [--utility SLUG]``: recompute the audit trail's hash chain
and report the first break per utility; exit status 1 when any chain is broken."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from portal import audit_chain
from portal.models import Utility


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain (all utilities, or one)."

    def add_arguments(self, parser):
        parser.add_argument("--utility", help="Slug of one utility (default: every chain).")

    def handle(self, *args, utility: str | None = None, **options):
        utility_id = None
        if utility:
            found = Utility.objects.filter(slug=utility).values_list("pk", flat=True).first()
            if found is None:
                raise CommandError(f"No utility {utility!r}.")
            utility_id = found
        result = audit_chain.verify(utility_id=utility_id)
        names = dict(Utility.objects.values_list("pk", "slug"))
        self.stdout.write(f"{result.rows_checked} audit rows checked.")
        if not result.breaks:
            self.stdout.write(self.style.SUCCESS("The audit chain is intact."))
            return
        first: dict = {}
        for item in result.breaks:
            first.setdefault(item.utility_id, item)
        for utility_pk, item in first.items():
            where = names.get(utility_pk, "platform") if utility_pk else "platform"
            self.stderr.write(
                f"{where}: chain broken at audit row {item.audit_id} "
                f"(position {item.chain_seq}): {item.reason}."
            )
        raise CommandError(f"The audit chain is broken in {len(first)} chain(s).", returncode=1)
