"""Issue OAuth2 client credentials to an automaker partner for the partner API."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from portal.partners import PartnerClientError, configured_scopes, create_partner_client


class Command(BaseCommand):
    help = (
        "Create a client-credentials API client for a partner (creating the partner and any "
        "missing agreements) and print its client id and secret. The secret is stored hashed "
        "and is shown only this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--partner", required=True, help="Partner name, e.g. 'Kestrel Auto'.")
        parser.add_argument(
            "--utility",
            action="append",
            required=True,
            dest="utilities",
            metavar="SLUG",
            help="A utility the client may act in; repeat for several.",
        )
        parser.add_argument(
            "--scopes",
            help=(
                "Space-separated scopes the client may request (default: all of "
                f"{' '.join(sorted(configured_scopes()))})."
            ),
        )
        parser.add_argument(
            "--reactivate",
            action="store_true",
            help="Make an ended or suspended agreement with a named utility active again.",
        )

    def handle(self, *args, **options):
        scopes = options["scopes"].split() if options["scopes"] is not None else None
        try:
            issued = create_partner_client(
                partner_name=options["partner"],
                utility_slugs=options["utilities"],
                scopes=scopes,
                reactivate=options["reactivate"],
            )
        except PartnerClientError as exc:
            raise CommandError(exc.message) from None

        client = issued.partner_client
        token_url = settings.SITE_URL + reverse("oauth2_provider:token")
        utilities = ", ".join(utility.slug for utility in client.utilities.order_by("name"))
        self.stdout.write(
            self.style.SUCCESS(f"Created an API client for {client.partner.name} ({utilities}).")
        )
        self.stdout.write(f"client_id:     {issued.client_id}")
        self.stdout.write(f"client_secret: {issued.client_secret}")
        self.stdout.write(f"scopes:        {' '.join(issued.scopes)}")
        self.stdout.write(f"token URL:     {token_url}")
        self.stdout.write(
            "The secret is not stored in readable form: hand it over now, securely.\n"
            "Get an access token with:\n"
            f"  curl -s -u '{issued.client_id}:{issued.client_secret}' \\\n"
            f"    -d grant_type=client_credentials -d 'scope={' '.join(issued.scopes)}' \\\n"
            f"    {token_url}"
        )
