"""``manage.py seed_demo [--scale N]``: the demo data set, and a large tenant for benchmarks."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from demo.logins import DEMO_PASSWORD, DEMO_TOTP_SECRET, LoginRow
from demo.organizations import SCALE_SLUG
from demo.seed import seed_demo, seed_scale_tenant


class Command(BaseCommand):
    help = (
        "Create the demo utilities, organizations, customers and one login for every role. "
        "Idempotent: running it again creates nothing new. --scale N also creates (or tops "
        "up) the 'Scale Test Utility' tenant with N customers, for benchmarks."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=int,
            default=0,
            metavar="N",
            help="Also make the benchmark tenant (slug 'scale') hold N customers.",
        )

    def handle(self, *args, scale: int, **options):
        if scale < 0:
            raise CommandError("--scale must be zero or more.")
        report = seed_demo()
        self.stdout.write(f"Demo data ready ({report.customers_created} new customers).")
        rows = report.logins
        if scale:
            scaled = seed_scale_tenant(customers=scale)
            self.stdout.write(
                f"Scale tenant '{SCALE_SLUG}': {scale} customers "
                f"({scaled.customers_created} new), audit trail of {scale // 10} rows."
            )
            rows = rows + scaled.logins
        self._print_logins(rows)
        self._print_codes(report.authorization_codes)

    def _print_codes(self, codes) -> None:
        self.stdout.write("")
        if not codes:
            self.stdout.write(
                "Customer authorization codes: issued on an earlier run (only their hashes are "
                "kept); issue new ones on a customer's page as customer service."
            )
            return
        self.stdout.write(
            "Customer authorization codes (for the partner API's account_number + zip_code + "
            "authorization_code, or an installer's new application); shown only now:"
        )
        for c in codes:
            self.stdout.write(
                f"  {c.utility}: account {c.account_number}, ZIP {c.zip_code}, code {c.code}"
            )

    def _print_logins(self, rows: list[LoginRow]) -> None:
        headers = ("Email", "Role", "Organization")
        table = [(r.email, r.role + (" (TOTP)" if r.mfa else ""), r.organization) for r in rows]
        widths = [max(len(str(c)) for c in column) for column in zip(headers, *table, strict=False)]
        line = "  ".join(f"{{:<{w}}}" for w in widths)
        self.stdout.write("")
        self.stdout.write(line.format(*headers).rstrip())
        self.stdout.write(line.format(*("-" * w for w in widths)))
        for row in table:
            self.stdout.write(line.format(*row).rstrip())
        self.stdout.write("")
        self.stdout.write(f"Password for every demo login: {DEMO_PASSWORD}")
        self.stdout.write(
            f"(TOTP) logins ask for a code: `python manage.py demo_totp EMAIL` prints it, or add "
            f"the secret {DEMO_TOTP_SECRET} to an authenticator app."
        )
