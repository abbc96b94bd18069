"""Base class for management commands that act inside one utility."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django_scopes import scope

from portal.models import Utility


class TenantCommand(BaseCommand):
    """Adds a required ``--utility SLUG`` and runs ``handle_tenant`` inside that scope."""

    def add_arguments(self, parser):
        parser.add_argument("--utility", required=True, help="Slug of the utility to act in.")

    def handle(self, *args, **options):
        slug = options["utility"]
        try:
            utility = Utility.objects.get(slug=slug)
        except Utility.DoesNotExist:
            raise CommandError(f"No utility with slug {slug!r}.") from None
        options.pop("utility")  # the slug; handle_tenant gets the Utility itself
        with scope(utility=utility.pk), timezone.override(utility.tzinfo):
            return self.handle_tenant(utility, *args, **options)

    def handle_tenant(self, utility: Utility, *args, **options):
        raise NotImplementedError
