"""``manage.py demo_totp EMAIL``: the current TOTP code of a demo program admin."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from demo.logins import DemoError, demo_totp_code


class Command(BaseCommand):
    help = (
        "Print the current 6-digit TOTP code of a demo login, so the demo can be tried "
        "without an authenticator app. Works only for accounts using the published demo secret."
    )

    def add_arguments(self, parser):
        parser.add_argument("email", help="e.g. admin@pvp.demo.test")

    def handle(self, *args, email: str, **options):
        try:
            code, seconds_left = demo_totp_code(email=email)
        except DemoError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(code)
        self.stderr.write(f"Valid for {seconds_left} more seconds; each code works once.")
